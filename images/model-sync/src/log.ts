// One JSON line per event, in the shape Cloud Logging reads: `severity` and `message`.
import pino from "pino";

const SEVERITY: Record<string, string> = { trace: "DEBUG", debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR", fatal: "CRITICAL" };

export type Logger = pino.Logger;

export function createLogger(destination: pino.DestinationStream | NodeJS.WritableStream = process.stdout, level = process.env.LOG_LEVEL ?? "info"): Logger {
    return pino(
        {
            level,
            base: null,
            messageKey: "message",
            timestamp: pino.stdTimeFunctions.isoTime,
            formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT" }) },
        },
        destination as pino.DestinationStream,
    );
}
