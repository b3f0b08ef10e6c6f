import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER_HUB, ImageRegistry } from "../build/buildSettings";
import { MAX_LENGTH, resourceId } from "../shared/naming";

export interface UpstreamRegistry {
    /** Suffix of the remote repository id. */
    name: string;
    /** https URL of the registry to mirror. */
    uri: string;
}

export interface RegistryCacheArgs {
    project: pulumi.Input<string>;
    region: string;
    /** Prefix of every repository id, e.g. `ws-dev`. */
    idPrefix: string;
    /** Registries to mirror besides Docker Hub, one remote repository each. */
    upstreams: UpstreamRegistry[];
    /** Cache manifests older than this many days are deleted. */
    cacheRetentionDays: number;
    /** This many newest cache manifests per package are kept whatever their age. */
    keepRecentCaches: number;
    /** Untagged versions in the image and mirror repositories older than this many days are deleted. */
    untaggedRetentionDays: number;
    /** This many newest versions per image are kept in those repositories whatever their age. */
    keepRecentVersions: number;
    /** Keep the repositories (and the images and caches in them) when they leave the stack. */
    retainOnDelete?: boolean;
    /** Members given read on the image repository (e.g. other projects' Cloud Run service agents). */
    readers?: string[];
    /** Members given write on the image and cache repositories (e.g. project stacks' deployers). */
    writers?: string[];
}

/** The upstream key of Docker Hub in `mirror()`. */
export { DOCKER_HUB };

/** Artifact Registry's cleanup policies take durations in seconds. */
export function daysToDuration(days: number): string {
    return `${days * 86400}s`;
}

/**
 * Cleanup policies of the BuildKit cache repository: caches untouched for the retention are
 * deleted, but the newest few of each image are always kept so a quiet service still builds warm.
 */
export function cacheCleanupPolicies(retentionDays: number, keepRecent: number): gcp.types.input.artifactregistry.RepositoryCleanupPolicy[] {
    return [
        { id: "delete-stale-caches", action: "DELETE", condition: { tagState: "ANY", olderThan: daysToDuration(retentionDays) } },
        { id: "keep-newest-caches", action: "KEEP", mostRecentVersions: { keepCount: keepRecent } },
    ];
}

/**
 * Cleanup policies of the image repository and the mirrors: a rebuilt image (a new CUDA base, a
 * service built again under its stack tag) leaves the previous version untagged, and a mirrored
 * tag that moved upstream leaves its old copy untagged; those go after the retention. The newest
 * few versions of each image stay whatever their tags, so a rollback to the previous revision (or a
 * project still built on the previous base digest) finds its image.
 */
export function imageCleanupPolicies(untaggedRetentionDays: number, keepRecent: number): gcp.types.input.artifactregistry.RepositoryCleanupPolicy[] {
    return [
        { id: "delete-old-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: daysToDuration(untaggedRetentionDays) } },
        { id: "keep-newest-versions", action: "KEEP", mostRecentVersions: { keepCount: keepRecent } },
    ];
}

/**
 * The registry side of the graph: pull-through caches (Artifact Registry remote repositories) for
 * Docker Hub and any extra upstreams, a standard repository for the images we build, and a
 * repository for BuildKit registry caches with cleanup policies.
 */
export class RegistryCache extends pulumi.ComponentResource implements ImageRegistry {
    /** `<region>-docker.pkg.dev`, the host every repository here lives on. */
    readonly host: string;
    /** Path of the repository our images are pushed to. */
    readonly imageRepository: pulumi.Output<string>;
    /** Path of the repository BuildKit caches are pushed to. */
    readonly cacheRepository: pulumi.Output<string>;
    /** Mirror prefixes by upstream name (`dockerhub` and each configured upstream). */
    readonly mirrors: Record<string, pulumi.Output<string>>;
    readonly remoteRepositories: gcp.artifactregistry.Repository[];
    /** The remote repository of each upstream, by upstream name. */
    private readonly remotes: Record<string, gcp.artifactregistry.Repository> = {};
    readonly images: gcp.artifactregistry.Repository;
    readonly caches: gcp.artifactregistry.Repository;

    constructor(name: string, args: RegistryCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:registry:RegistryCache", name, {}, opts);
        this.host = `${args.region}-docker.pkg.dev`;

        const upstreams: { name: string; remote: gcp.types.input.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepository; description: string }[] = [];
        // Docker Hub is always mirrored: the CUDA bases and the sync image start from it.
        upstreams.push({ name: DOCKER_HUB, remote: { publicRepository: "DOCKER_HUB" }, description: "Pull-through cache of Docker Hub" });
        for (const u of args.upstreams) {
            upstreams.push({ name: u.name, remote: { customRepository: { uri: u.uri } }, description: `Pull-through cache of ${u.uri}` });
        }

        this.mirrors = {};
        // Dry run off: the policies delete, rather than only report what they would delete.
        const imageCleanup = { cleanupPolicyDryRun: false, cleanupPolicies: imageCleanupPolicies(args.untaggedRetentionDays, args.keepRecentVersions) };
        this.remoteRepositories = upstreams.map((u) => {
            const repo = new gcp.artifactregistry.Repository(`${name}-${u.name}`, {
                project: args.project,
                location: args.region,
                repositoryId: resourceId([args.idPrefix, u.name], MAX_LENGTH.repository),
                format: "DOCKER",
                mode: "REMOTE_REPOSITORY",
                description: u.description,
                remoteRepositoryConfig: { description: u.description, dockerRepository: u.remote },
                ...imageCleanup,
            }, { parent: this, retainOnDelete: args.retainOnDelete });
            this.mirrors[u.name] = this.pathOf(repo);
            this.remotes[u.name] = repo;
            return repo;
        });

        this.images = new gcp.artifactregistry.Repository(`${name}-images`, {
            project: args.project,
            location: args.region,
            repositoryId: resourceId([args.idPrefix, "images"], MAX_LENGTH.repository),
            format: "DOCKER",
            mode: "STANDARD_REPOSITORY",
            description: "CUDA bases and service images, deployed by digest",
            ...imageCleanup,
        }, { parent: this, retainOnDelete: args.retainOnDelete });
        this.imageRepository = this.pathOf(this.images);

        this.caches = new gcp.artifactregistry.Repository(`${name}-buildcache`, {
            project: args.project,
            location: args.region,
            repositoryId: resourceId([args.idPrefix, "buildcache"], MAX_LENGTH.repository),
            format: "DOCKER",
            mode: "STANDARD_REPOSITORY",
            description: "BuildKit registry caches (max mode)",
            cleanupPolicyDryRun: false,
            cleanupPolicies: cacheCleanupPolicies(args.cacheRetentionDays, args.keepRecentCaches),
        }, { parent: this, retainOnDelete: args.retainOnDelete });
        this.cacheRepository = this.pathOf(this.caches);

        (args.readers ?? []).forEach((member, i) => this.grantPull(`${name}-reader-${i}`, member));
        (args.writers ?? []).forEach((member, i) => this.grantPush(`${name}-writer-${i}`, member));

        this.registerOutputs({ imageRepository: this.imageRepository, cacheRepository: this.cacheRepository, mirrors: this.mirrors });
    }

    /**
     * The prefix that replaces `docker.io` (or the upstream's host) in a `FROM` line, e.g.
     * `mirror()` + `/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04`.
     */
    mirror(upstream: string = DOCKER_HUB): pulumi.Output<string> {
        const prefix = this.mirrors[upstream];
        if (prefix === undefined) {
            throw new Error(`RegistryCache has no mirror for upstream '${upstream}' (configured: ${Object.keys(this.mirrors).join(", ") || "none"})`);
        }
        return prefix;
    }

    /** Where an image we build is pushed: `<imageRepository>/<image>:<tag>`. */
    imageRef(image: string, tag: string): pulumi.Output<string> {
        return pulumi.interpolate`${this.imageRepository}/${image}:${tag}`;
    }

    /** The BuildKit registry cache of one image. */
    cacheRef(image: string): pulumi.Output<string> {
        return pulumi.interpolate`${this.cacheRepository}/${image}:buildcache`;
    }

    /** Lets a member pull our images, e.g. another project's Cloud Run service agent. */
    grantPull(name: string, member: pulumi.Input<string>): gcp.artifactregistry.RepositoryIamMember {
        return new gcp.artifactregistry.RepositoryIamMember(name, {
            project: this.images.project,
            location: this.images.location,
            repository: this.images.repositoryId,
            role: "roles/artifactregistry.reader",
            member,
        }, { parent: this });
    }

    /**
     * Lets a member build here, e.g. a project stack's deployer: push images and build caches, and
     * pull through every mirror, since the images it builds start `FROM <mirror>/…` (the sync
     * image from `library/node`). Reading through a remote repository needs
     * roles/artifactregistry.reader on that repository; write on the others does not grant it.
     */
    grantPush(name: string, member: pulumi.Input<string>): gcp.artifactregistry.RepositoryIamMember[] {
        const grant = (suffix: string, repo: gcp.artifactregistry.Repository, role: string) => new gcp.artifactregistry.RepositoryIamMember(`${name}-${suffix}`, {
            project: repo.project,
            location: repo.location,
            repository: repo.repositoryId,
            role,
            member,
        }, { parent: this });
        return [
            grant("images", this.images, "roles/artifactregistry.writer"),
            grant("caches", this.caches, "roles/artifactregistry.writer"),
            ...Object.entries(this.remotes).map(([upstream, repo]) => grant(`mirror-${upstream}`, repo, "roles/artifactregistry.reader")),
        ];
    }

    // Built from the repository's outputs so everything that uses a path depends on the repository.
    private pathOf(repo: gcp.artifactregistry.Repository): pulumi.Output<string> {
        return pulumi.interpolate`${this.host}/${repo.project}/${repo.repositoryId}`;
    }
}
