// Redaction before anything is written: detectors, per-call placeholders, modes.
export * from './detectors.ts';
export * from './redactor.ts';
export * from './policy.ts';
