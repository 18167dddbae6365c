/**
 * A design written in TypeScript, loaded by path: type-checked against mmsplit's own types (strict), then
 * compiled to a module beside it (`.NAME.mmsplit.mjs`, so that its relative and package imports resolve as
 * they would for the .ts file), which the workers import. Uses the `typescript` package installed where the
 * design is (or mmsplit's own, in a checkout); the library does not depend on it.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DesignDefinitionError } from '../mm/design.js';

type Ts = typeof import('typescript');

function loadTypescript(file: string): Ts {
  for (const from of [file, import.meta.url]) {
    try {
      return createRequire(from)('typescript') as Ts;
    } catch {
      // try the next place
    }
  }
  throw new DesignDefinitionError(`${file}: a design in TypeScript needs the typescript package (npm install --save-dev typescript), or compile it to .js yourself`);
}

const compiled: string[] = [];
process.on('exit', () => {
  for (const f of compiled) if (existsSync(f)) unlinkSync(f);
});

/** Type-checks `file` and compiles it; returns the compiled module's file: URL. */
export function compileDesignModule(file: string): string {
  if (!existsSync(file)) throw new DesignDefinitionError(`${file}: no such file`);
  const ts = loadTypescript(file);
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [] as string[],
    lib: ['lib.es2022.d.ts'],
  };
  const program = ts.createProgram([file], options);
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length > 0) {
    const d = diagnostics[0]!;
    let at = file;
    if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      at = `${d.file.fileName}:${line + 1}:${character + 1}`;
    }
    const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : '';
    throw new DesignDefinitionError(`${at}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}${more}`);
  }
  const out = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: false },
  });
  const target = join(dirname(file), `.${basename(file).replace(/\.m?ts$/, '')}.mmsplit.mjs`);
  writeFileSync(target, out.outputText);
  compiled.push(target);
  return pathToFileURL(target).href;
}
