/** Assembles WebAssembly text into a binary module with wabt (npm), for tests that build their guest inline. */
import wabt from 'wabt';

type Features = NonNullable<Parameters<Awaited<ReturnType<typeof wabt>>['parseWat']>[2]>;

/** The binary for `source`; throws with wabt's message when the text does not assemble or validate. */
export async function wat(source: string, features: Features = {}): Promise<Uint8Array> {
  const assembler = await wabt();
  const module = assembler.parseWat('inline.wat', source, features);
  try {
    module.resolveNames();
    // wabt's validate() takes the feature set too, though its typings leave the parameter out.
    const validate: (this: typeof module, options: Features) => void = module.validate;
    validate.call(module, features);
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
