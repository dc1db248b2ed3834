/**
 * Topic name and topic filter validation (MQTT 5 section 4.7) and $share parsing (section 4.8.2).
 * Each function returns 0 when valid, else the MQTT 5 reason code to answer with.
 */
import { isUtf8 } from 'node:buffer';
import { RC } from '../capabilities';

export interface TopicLimits {
  maxTopicLength: number;
  maxTopicLevels: number;
}

function countLevels(s: string): number {
  let n = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 47) n++;
  return n;
}

/** A PUBLISH topic name. */
export function validateTopicName(topic: string, limits: TopicLimits): number {
  // [MQTT-4.7.3-1] topic names must be at least one character long.
  if (topic.length === 0) return RC.TOPIC_NAME_INVALID;
  if (topic.length > limits.maxTopicLength) return RC.TOPIC_NAME_INVALID;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    // [MQTT-3.3.2-2] the topic name in a PUBLISH must not contain wildcard characters.
    // [MQTT-4.7.3-2] topic names must not include the null character U+0000.
    if (c === 43 /* + */ || c === 35 /* # */ || c === 0) return RC.TOPIC_NAME_INVALID;
  }
  if (countLevels(topic) > limits.maxTopicLevels) return RC.TOPIC_NAME_INVALID;
  return 0;
}

/** A plain (non-shared) topic filter. */
export function validateFilter(filter: string, limits: TopicLimits): number {
  // [MQTT-4.7.3-1] filters must be at least one character long.
  if (filter.length === 0 || filter.length > limits.maxTopicLength) return RC.TOPIC_FILTER_INVALID;
  const n = filter.length;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0) return RC.TOPIC_FILTER_INVALID; // [MQTT-4.7.3-2]
    if (c === 35 /* # */) {
      // [MQTT-4.7.1-1] '#' must be the last character and occupy a whole level.
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 47)) return RC.TOPIC_FILTER_INVALID;
    } else if (c === 43 /* + */) {
      // [MQTT-4.7.1-2] '+' must occupy an entire level.
      if ((i > 0 && filter.charCodeAt(i - 1) !== 47) || (i < n - 1 && filter.charCodeAt(i + 1) !== 47)) {
        return RC.TOPIC_FILTER_INVALID;
      }
    }
  }
  if (countLevels(filter) > limits.maxTopicLevels) return RC.TOPIC_FILTER_INVALID;
  return 0;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

export interface ParsedFilter {
  /** The filter to match topics with (without the $share prefix). */
  filter: string;
  /** Share name for `$share/<group>/<filter>`, else undefined. */
  group?: string;
}

/** Parse a subscription's filter; returns a reason code (number) when invalid. */
export function parseFilter(full: string, limits: TopicLimits): ParsedFilter | number {
  if (full.startsWith('$share/')) {
    const rest = full.slice(7);
    const slash = rest.indexOf('/');
    // [MQTT-4.8.2-1] a $share filter has a share name and a topic filter after it.
    if (slash <= 0) return RC.TOPIC_FILTER_INVALID;
    const group = rest.slice(0, slash);
    // [MQTT-4.8.2-2] the share name must not contain '/', '+' or '#'.
    if (group.includes('+') || group.includes('#')) return RC.TOPIC_FILTER_INVALID;
    const filter = rest.slice(slash + 1);
    const rc = validateFilter(filter, limits);
    if (rc) return rc;
    return { filter, group };
  }
  if (full === '$share') return RC.TOPIC_FILTER_INVALID;
  const rc = validateFilter(full, limits);
  if (rc) return rc;
  return { filter: full };
}

/** True when `topic` matches `filter` (both valid). Honours [MQTT-4.7.2-1] for '$' topics. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Strict UTF-8 check (payload format indicator 1, section 3.3.2.3.2). */
export function isValidUtf8(buf: Buffer): boolean {
  return isUtf8(buf);
}
