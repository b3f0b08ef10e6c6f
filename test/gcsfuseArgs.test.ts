import { expect } from "chai";
import { readOnlyMountOptions, readWriteMountOptions } from "../components/gcp/modelCache";
import { gcsfuseArgs } from "./mount/gcsfuseArgs";

describe("gcsfuse command line of a Cloud Run volume (the mount tests run it)", () => {
    it("passes each mount option as a flag with its dashes, in order, then the bucket and the mount point", () => {
        expect(gcsfuseArgs({ bucket: "b", readOnly: false, mountOptions: ["implicit-dirs", "metadata-cache-ttl-secs=-1"] }, "/m"))
            .to.deep.equal(["--implicit-dirs", "--metadata-cache-ttl-secs=-1", "b", "/m"]);
    });

    it("mounts a read-only volume with the ro mount option", () => {
        expect(gcsfuseArgs({ bucket: "b", readOnly: true, mountOptions: [] }, "/m")).to.deep.equal(["-o", "ro", "b", "/m"]);
    });

    it("refuses an option gcsfuse would not read as a flag, naming its index and value", () => {
        expect(() => gcsfuseArgs({ bucket: "b", readOnly: false, mountOptions: ["implicit-dirs", "--rename-dir-limit=5"] }, "/m"))
            .to.throw('mountOptions[1]: not a gcsfuse flag without its leading dashes, as Cloud Run takes them (value "--rename-dir-limit=5")');
        expect(() => gcsfuseArgs({ bucket: "b", readOnly: false, mountOptions: ["stat-cache-max-size-mb= 64"] }, "/m")).to.throw(/mountOptions\[0\]/);
    });

    it("takes every option the program gives the job and the services", () => {
        for (const mountOptions of [readOnlyMountOptions(), readWriteMountOptions()]) {
            expect(gcsfuseArgs({ bucket: "b", readOnly: false, mountOptions }, "/m")).to.have.length(mountOptions.length + 2);
        }
    });
});
