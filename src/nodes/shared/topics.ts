/**
 * Topic and topic-filter validation and matching (MQTT 5 section 4.7), shared-subscription filters
 * (section 4.8.2). Every validator returns `null` when valid, else a precise message.
 */
import { describeValue } from './messages';

export function validatePublishTopic(topic: unknown): string | null {
  if (typeof topic !== 'string') return `topic must be a string (got ${topic === null ? 'null' : typeof topic})`;
  if (topic.length === 0) return 'topic is empty';
  if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) {
    return `topic ${describeValue(topic)} contains a wildcard (+ or #), which is not allowed when publishing`;
  }
  if (topic.includes('\u0000')) return 'topic contains a NUL character';
  // a UTF-16 code unit is at most 3 UTF-8 bytes: only long topics need counting
  if (topic.length > 21845 && Buffer.byteLength(topic) > 65535) return 'topic is longer than 65535 bytes';
  return null;
}

export function validateTopicFilter(filter: unknown): string | null {
  if (typeof filter !== 'string') return `topic filter must be a string (got ${filter === null ? 'null' : typeof filter})`;
  if (filter.length === 0) return 'topic filter is empty';
  if (filter.includes('\u0000')) return 'topic filter contains a NUL character';
  if (Buffer.byteLength(filter) > 65535) return 'topic filter is longer than 65535 bytes';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) {
      return `invalid topic filter ${describeValue(filter)}: # must be a whole level and the last one`;
    }
    if (l.includes('+') && l !== '+') return `invalid topic filter ${describeValue(filter)}: + must be a whole level`;
  }
  if (levels[0] === '$share') return `topic filter ${describeValue(filter)} starts with $share: use the shared subscription group field instead`;
  return null;
}

export function validateShareGroup(group: unknown): string | null {
  if (typeof group !== 'string' || group.length === 0) return 'shared subscription group is empty';
  if (/[/+#]/.test(group)) return `shared subscription group ${describeValue(group)} must not contain / + or #`;
  return null;
}

/** `$share/<group>/<filter>` when a group is given, else the filter. */
export function fullFilter(filter: string, group?: string): string {
  return group ? `$share/${group}/${filter}` : filter;
}

/** The filter without its `$share/<group>/` prefix. */
export function stripShare(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const i = filter.indexOf('/', 7);
  return i < 0 ? filter : filter.slice(i + 1);
}

/** Does `topic` match `filter` (no $share prefix)? Topics starting with $ do not match a leading wildcard. */
export function topicMatches(filter: string, topic: string): boolean {
  // without wildcards a filter matches exactly its own topic (the common case, no splitting)
  if (filter.indexOf('+') < 0 && filter.indexOf('#') < 0) return filter === topic;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const p = f[i];
    if (p === '#') return true;
    if (i >= t.length) return false;
    if (p !== '+' && p !== t[i]) return false;
  }
  return f.length === t.length;
}
