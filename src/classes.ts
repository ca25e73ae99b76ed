/**
 * Content-class resolution: the first class (in declared order) with a matching path
 * pattern wins, else `defaultClass` — CloudFront's ordered cache behaviors plus its default
 * behavior. Compiled patterns are cached per config object, so a reload recompiles once.
 */
import { compilePathPattern } from './config/patterns.js';
import type { EdgewiseConfig } from './config/schema.js';
import type { ContentClassConfig } from './config/sections/classes.js';

type Matcher = Array<{ re: RegExp; cls: ContentClassConfig }>;
const compiled = new WeakMap<object, { matchers: Matcher; fallback: ContentClassConfig }>();

export function classify(config: Readonly<EdgewiseConfig>, path: string): ContentClassConfig {
  let entry = compiled.get(config);
  if (!entry) {
    const matchers: Matcher = [];
    for (const cls of config.classes)
      for (const p of cls.pathPatterns) matchers.push({ re: compilePathPattern(p), cls });
    const fallback = config.classes.find((c) => c.name === config.defaultClass) ?? config.classes[0]!;
    entry = { matchers, fallback };
    compiled.set(config, entry);
  }
  for (const m of entry.matchers) if (m.re.test(path)) return m.cls;
  return entry.fallback;
}
