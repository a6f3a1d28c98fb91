// The only globals core/ may use beyond ECMAScript itself: WHATWG APIs that every runtime Lighter
// runs on has (Node, browsers, the renderer), declared here because core/ is checked with no
// ambient types (core/tsconfig.json) so that Buffer, process and other Node globals stay out.
declare global {
  class TextEncoder {
    encode(input?: string): Uint8Array;
  }
  class TextDecoder {
    constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
    decode(input?: Uint8Array, options?: { stream?: boolean }): string;
  }
  function structuredClone<T>(value: T): T;
}

export {};
