export * from './model.js';
export * from './generator.js';
