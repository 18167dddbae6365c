/**
 * `node --import this.js …`: vega and vega-lite cannot be found, as in an install of mmsplit without its
 * optional peer dependencies (the resolve hook answers as Node does for a package that is not there).
 */
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'vega' || specifier === 'vega-lite') {
    throw Object.assign(new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
