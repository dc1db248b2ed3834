/** Broker stores: MemoryStore (default) and FileStore (durable, append-only log + snapshots). */
export { MemoryStore, MemoryState } from './memory';
export { FileStore, type FileStoreOptions } from './file';
