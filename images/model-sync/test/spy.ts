/** Replaces obj[key] with a wrapper around it until the returned restore is called. */
export function spy(obj: Record<string, unknown>, key: string, wrap: (orig: (...a: unknown[]) => unknown) => (...a: unknown[]) => unknown): () => void {
    const orig = obj[key] as (...a: unknown[]) => unknown;
    obj[key] = wrap(orig);
    return () => {
        obj[key] = orig;
    };
}
