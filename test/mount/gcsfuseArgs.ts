// What Cloud Run runs for a Cloud Storage volume, as a gcsfuse command line: each of the volume's
// mountOptions is "a flag to pass to the gcsfuse CLI, without the leading --", and readOnly "mounts
// the volume read-only for all mounts" (Cloud Run Admin API v2, GCSVolumeSource).

/** A Cloud Run Cloud Storage volume, as the program declares it (`volumes[].gcs`). */
export interface GcsVolume {
    bucket: string;
    readOnly: boolean;
    mountOptions: string[];
}

/** `name` or `name=value`, the name as gcsfuse spells its flags. */
const MOUNT_OPTION = /^[a-z][a-z0-9-]*(=\S+)?$/;

/**
 * The gcsfuse arguments for a volume: its options as flags, read-only as the `ro` mount option,
 * then the bucket and the mount point. An option gcsfuse would not read as a flag is refused,
 * named with its index and value.
 */
export function gcsfuseArgs(volume: GcsVolume, mountPoint: string): string[] {
    const flags = volume.mountOptions.map((option, i) => {
        if (!MOUNT_OPTION.test(option)) {
            throw new Error(`mountOptions[${i}]: not a gcsfuse flag without its leading dashes, as Cloud Run takes them (value ${JSON.stringify(option)})`);
        }
        return `--${option}`;
    });
    return [...flags, ...(volume.readOnly ? ["-o", "ro"] : []), volume.bucket, mountPoint];
}
