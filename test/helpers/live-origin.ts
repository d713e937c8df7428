// The live simulator lives in src/demo/ because `streamgate demo` serves it; tests use the same code.
export * from '../../src/demo/live-origin.js';
