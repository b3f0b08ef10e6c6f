import { Writable } from "stream";

/** A log destination that keeps each JSON line the logger writes, parsed. */
export class Lines extends Writable {
    readonly lines: Record<string, unknown>[] = [];
    _write(chunk: Buffer, _enc: string, cb: () => void): void {
        for (const l of chunk.toString().split("\n").filter(Boolean)) this.lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
    }
}
