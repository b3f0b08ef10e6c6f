// Runtime settings that must precede every other import of the program.
//
// undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it quickly (Liftoff) and
// then recompiles it optimised (TurboFan) on background threads: about 35 MB of peak RSS (75 MB
// instead of 110 MB for a 1 MiB download), for a parser that only finds headers and body
// boundaries; body bytes never pass through it. Measured as the peak RSS of `node dist/cli.js`
// (`/usr/bin/time -f %M`); `npm run bench:sync` shows it for a 2 GiB file.
import { setFlagsFromString } from "v8";

setFlagsFromString("--liftoff-only");
