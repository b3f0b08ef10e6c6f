import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { cacheCheckFilter, failedSyncQuery, failedSyncWindowSeconds, missShareThreshold, NEW_METRIC_SETTLE, scheduleIntervalSeconds } from "../components/gcp/monitoring";
import { seedExecutionToken } from "../components/gcp/modelSyncJob";
import { evaluateStack, REPO_ROOT, stackFileConfig } from "../scripts/evaluate";
import { byType, dependsOn, evaluateWith, expectRejected, get, one, Plan } from "./support/plan";

const POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const METRIC = "gcp:logging/metric:Metric";
const CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel";

describe("operations", () => {
    let dev: Plan;
    let prod: Plan;
    before(async () => {
        dev = await evaluateStack("dev");
        prod = await evaluateStack("prod");
    });

    describe("alert windows", () => {
        it("reads the interval of a schedule", () => {
            expect(scheduleIntervalSeconds("0 3 * * *", "Europe/Brussels")).to.equal(86400);
            expect(scheduleIntervalSeconds("0 */6 * * *", "Etc/UTC")).to.equal(21600);
        });

        it("looks back N intervals plus the longest run for N failures in a row", () => {
            expect(failedSyncWindowSeconds(86400, 2, 3 * 3600)).to.equal(2 * 86400 + 3 * 3600);
            expect(failedSyncWindowSeconds(21600, 3, 600)).to.equal(3 * 21600 + 600);
        });

        // Drift: with runs at 03:00 then (after retries) 05:00 the next day, a window of exactly
        // one interval held for N-1 intervals can see an empty window between two failures.
        it("alerts on N failures in the window unless a success is in it (PromQL, no held state)", () => {
            const q = failedSyncQuery("job-a", 2, 183600);
            expect(q).to.match(/^sum\(increase\(run_googleapis_com:job_completed_execution_count\{[^}]*result="failed"\}\[183600s\]\)\) >= 2 unless sum\(increase\(run_googleapis_com:job_completed_execution_count\{[^}]*result="succeeded"\}\[183600s\]\)\) > 0$/);
            expect(q).to.include('monitored_resource="cloud_run_job",job_name="job-a"');
        });

        it("counts the stack's services' cache checks and misses, not hits", () => {
            expect(cacheCheckFilter(["a", "b"], true)).to.equal('resource.type="cloud_run_revision" AND resource.labels.service_name=("a" OR "b") AND jsonPayload.cache_hit=false');
            expect(cacheCheckFilter(["a"], false)).to.include("jsonPayload.cache_hit:*");
        });

        it("turns a hit-rate floor into a miss-share ceiling", () => {
            expect(missShareThreshold(0.9)).to.equal(0.1);
            expect(missShareThreshold(0.75)).to.equal(0.25);
        });
    });

    describe("Monitoring (prod)", () => {
        it("creates log-based metrics from the services' cache_hit lines", () => {
            const misses = one(prod, METRIC, "monitoring-cache-misses");
            const checks = one(prod, METRIC, "monitoring-cache-checks");
            expect(misses.inputs.name).to.equal("warmstart/ws-prod/cache_misses");
            expect(misses.inputs.filter).to.equal(cacheCheckFilter(["ws-prod-embeddings", "ws-prod-custom-ops"], true));
            expect(checks.inputs.filter).to.equal(cacheCheckFilter(["ws-prod-embeddings", "ws-prod-custom-ops"], false));
            expect(get(misses.inputs, "metricDescriptor.metricKind")).to.equal("DELTA");
        });

        // terraform-provider-google #11102: a policy on a log-based metric created in the same
        // run is refused ("Cannot find metric(s)") for up to ~10 minutes after the metric exists.
        it("creates the cache alert only after a wait on its new metrics, which waits on create only", () => {
            const sleep = one(prod, "time:index/sleep:Sleep", "monitoring-metrics-settle");
            expect(sleep.inputs.createDuration).to.equal(NEW_METRIC_SETTLE);
            expect(sleep.inputs.destroyDuration).to.equal(undefined);
            for (const metric of ["monitoring-cache-checks", "monitoring-cache-misses"]) expect(dependsOn(sleep, one(prod, METRIC, metric)), metric).to.equal(true);
            expect(get(sleep.inputs, "triggers.metrics")).to.equal("warmstart/ws-prod/cache_checks,warmstart/ws-prod/cache_misses");
            expect(dependsOn(one(prod, POLICY, "monitoring-cache-hit-rate"), sleep)).to.equal(true);
        });

        it("counts the sync's runs by outcome from its summary line", () => {
            const runs = one(prod, METRIC, "monitoring-sync-runs");
            expect(runs.inputs.filter).to.equal('resource.type="cloud_run_job" AND resource.labels.job_name="ws-prod-model-sync" AND jsonPayload.message=~"^sync finished" AND jsonPayload.outcome:*');
            expect(runs.inputs.labelExtractors).to.deep.equal({ outcome: "EXTRACT(jsonPayload.outcome)" });
        });

        // A hits/checks ratio has no numerator series in an hour with no hit: blind when every start misses.
        it("alerts when over 10 % of an hour's starts miss (the hit rate under 90 %)", () => {
            const policy = one(prod, POLICY, "monitoring-cache-hit-rate");
            const cond = get(policy.inputs, "conditions.0.conditionThreshold") as Record<string, unknown>;
            expect(cond).to.include({ comparison: "COMPARISON_GT", thresholdValue: 0.1, duration: "0s" });
            expect(cond.filter).to.equal('metric.type="logging.googleapis.com/user/warmstart/ws-prod/cache_misses" AND resource.type="cloud_run_revision"');
            expect(cond.denominatorFilter).to.equal('metric.type="logging.googleapis.com/user/warmstart/ws-prod/cache_checks" AND resource.type="cloud_run_revision"');
            expect(get(cond, "aggregations.0.alignmentPeriod")).to.equal("3600s");
        });

        it("takes the thresholds from config", async () => {
            const p = await evaluateWith({ "warmstart:monitoring": { enabled: true, notificationEmails: ["a@example.com"], cacheHitRateThreshold: 0.75, consecutiveFailedSyncs: 3, bucketQuotaGiB: 100, bucketUsageThreshold: 0.5 } }, "prod");
            expect(get(one(p, POLICY, "monitoring-cache-hit-rate").inputs, "conditions.0.conditionThreshold.thresholdValue")).to.equal(0.25);
            expect(String(get(one(p, POLICY, "monitoring-sync-failures").inputs, "conditions.0.conditionPrometheusQueryLanguage.query"))).to.include(">= 3 unless");
            expect(get(one(p, POLICY, "monitoring-bucket-usage").inputs, "conditions.0.conditionThreshold.thresholdValue")).to.equal(50 * 2 ** 30);
        });

        it("alerts on two consecutive failed executions of this stack's sync job, over two days plus the longest run", () => {
            const policy = one(prod, POLICY, "monitoring-sync-failures");
            const cond = get(policy.inputs, "conditions.0.conditionPrometheusQueryLanguage") as Record<string, unknown>;
            expect(get(policy.inputs, "conditions.0.conditionThreshold")).to.equal(undefined);
            const sync = JSON.parse(stackFileConfig("prod")["warmstart:sync"]) as { timeoutSeconds?: number; maxRetries?: number };
            const maxRun = (sync.timeoutSeconds ?? 3600) * ((sync.maxRetries ?? 2) + 1);
            expect(cond.query).to.equal(failedSyncQuery("ws-prod-model-sync", 2, failedSyncWindowSeconds(86400, 2, maxRun)));
            expect(cond.duration).to.equal("0s");
        });

        it("alerts at 80 % of the bucket quota", () => {
            const cond = get(one(prod, POLICY, "monitoring-bucket-usage").inputs, "conditions.0.conditionThreshold") as Record<string, unknown>;
            expect(cond.thresholdValue).to.equal(Math.round(500 * 0.8 * 2 ** 30));
            expect(cond.filter).to.include('resource.labels.bucket_name="warmstart-models-warmstart-prod-prod"');
        });

        it("has no bucket alert without a quota", async () => {
            const p = await evaluateWith({ "warmstart:monitoring": { enabled: true, notificationEmails: ["a@example.com"] } }, "prod");
            expect(byType(p, POLICY).map((x) => x.name).sort()).to.deep.equal(["monitoring-cache-hit-rate", "monitoring-sync-failures"]);
        });

        it("sends every alert to the email channels from config, with documentation", () => {
            const channels = byType(prod, CHANNEL);
            expect(channels.map((c) => get(c.inputs, "labels.email_address"))).to.deep.equal(["ml-oncall@example.com"]);
            for (const policy of byType(prod, POLICY)) {
                expect(policy.inputs.notificationChannels, policy.name).to.deep.equal(channels.map((c) => c.state.name));
                expect(String(get(policy.inputs, "documentation.content")), policy.name).to.match(/What it means[\s\S]*What to do/);
            }
        });

        it("is off in dev, and refuses to be on without a recipient", async () => {
            expect(dev.resources.filter((r) => r.type.startsWith("gcp:monitoring/") || r.type.startsWith("gcp:logging/"))).to.deep.equal([]);
            const message = await expectRejected({ "warmstart:monitoring": { enabled: true } });
            expect(message).to.include("warmstart:monitoring.notificationEmails:");
        });
    });

    describe("seeding", () => {
        const JOB = "gcp:cloudrunv2/job:Job";
        const SERVICE = "gcp:cloudrunv2/service:Service";
        const token = (p: Plan) => String(one(p, JOB, "model-sync-seed").inputs.runExecutionToken);
        const syncWith = (sync: Record<string, unknown>) => evaluateWith({ "warmstart:sync": { ...JSON.parse(stackFileConfig("dev")["warmstart:sync"]), ...sync } });

        it("seeds with a second job that runs the same task, and starts the services after it", () => {
            const seed = one(dev, JOB, "model-sync-seed");
            const scheduled = one(dev, JOB, "model-sync-job");
            expect(seed.inputs.name).to.equal("ws-dev-model-sync-seed");
            expect(seed.inputs.template).to.deep.equal(scheduled.inputs.template);
            for (const name of ["embeddings-service", "custom-ops-service"]) {
                expect(dependsOn(one(dev, SERVICE, name), seed), name).to.equal(true);
            }
        });

        it("never puts a run token on the job the scheduler runs", () => {
            // magic-modules #19060: the provider re-sends the token on every update, and the API
            // forgets it once another execution ran, so an update asks for `<job>-<token>` again
            // ("already exists", terraform-provider-google #24451) and a refresh diffs forever.
            for (const p of [dev, prod]) expect(one(p, JOB, "model-sync-job").inputs.runExecutionToken, p.stack).to.equal(undefined);
            const uri = String(get(one(dev, "gcp:cloudscheduler/job:Job", "model-sync-schedule").inputs, "httpTarget.uri"));
            expect(uri).to.match(/\/jobs\/ws-dev-model-sync:run$/);
        });

        it("derives the token from what the run runs: unchanged is no diff, a new models list or image seeds again", async () => {
            expect(token(await evaluateStack("dev"))).to.equal(token(dev));
            const models = JSON.parse(stackFileConfig("dev")["warmstart:models"]) as unknown[];
            expect(token(await evaluateWith({ "warmstart:models": models.slice(0, 1) }))).not.to.equal(token(dev));
            // Another build context stands in for a changed sync program: a new image digest, a new token.
            const rebuilt = await evaluateWith({ "warmstart:sync": { ...JSON.parse(stackFileConfig("dev")["warmstart:sync"]), context: "images/model-sync/." } });
            expect(get(one(rebuilt, JOB, "model-sync-seed").inputs, "template.template.containers.0.image")).not.to.equal(get(one(dev, JOB, "model-sync-seed").inputs, "template.template.containers.0.image"));
            expect(token(rebuilt)).not.to.equal(token(dev));
        });

        it("keeps job name and token within the API's limit", () => {
            // Cloud Run Admin API v2 Job.run_execution_token: "The sum of job name and token length must be fewer than 63 characters".
            const seed = one(dev, JOB, "model-sync-seed");
            expect(String(seed.inputs.name).length + token(dev).length).to.be.below(63);
            expect(token(dev)).to.match(/^[a-z][a-z0-9]*$/);
            const longest = "a".repeat(49);
            expect(longest.length + seedExecutionToken(longest, {}).length).to.be.below(63);
        });

        it("gives the create that waits for the run every attempt's full timeout", async () => {
            // Cloud Run docs, "Set task timeout for jobs": with retries, the timeout applies to each attempt of a task.
            const seed = one(dev, JOB, "model-sync-seed");
            const worst = Math.ceil((1 + 1) * 3600 / 60);
            const minutes = Number(/^(\d+)m$/.exec((seed.options.customTimeouts as Record<string, string> | undefined)?.create ?? "")?.[1]);
            expect(minutes).to.be.at.least(worst + 10);
            const p = await syncWith({ timeoutSeconds: 7200, maxRetries: 3 });
            // A seed job is only ever created (replaced), never updated: no update to wait for.
            expect(one(p, JOB, "model-sync-seed").options.customTimeouts).to.deep.equal({ create: `${4 * 120 + 15}m` });
            expect(one(p, JOB, "model-sync-job").options.customTimeouts).to.equal(undefined);
        });

        it("derives the token from every other input of the job, so no input changes without a new token", async () => {
            const { runExecutionToken, ...others } = one(dev, JOB, "model-sync-seed").inputs;
            expect(runExecutionToken).to.equal(seedExecutionToken(String(others.name), others));
            // A change outside the template (the job's name, its project) is a new token too.
            expect(token(await evaluateWith({ "warmstart:namePrefix": "wsx" }))).not.to.equal(token(dev));
            expect(token(await evaluateWith({ "gcp:project": "warmstart-dev-2" }))).not.to.equal(token(dev));
        });

        // The token is never sent twice. mmv1 templates/terraform/resource.go.tmpl (Update): any
        // change but `deletion_policy` PATCHes the whole job, token included, and the API refuses a
        // token it already ran (magic-modules #19060); so the seed job is never updated, only
        // replaced. pulumi-terraform-bridge pkg/tfbridge/provider.go: a create or update whose
        // apply failed (a failed run) is returned as init errors with the partial state; pulumi
        // pkg/resource/deploy/step_generator.go (applyReplaceOnChanges): a replaceOnChanges path
        // that contains `#initerror` — `*` contains every key — makes init errors a replacement,
        // where without it the next `up` only resumes the failed resource. That a deleted job takes
        // its executions with it, so the re-created job may run `<job>-<token>` again, is the API's
        // to decide (executions are sub-resources of their job: projects.locations.jobs.executions).
        it("is replaced, never updated, so a failed run is run again by the next up", () => {
            for (const p of [dev, prod]) {
                const seed = one(p, JOB, "model-sync-seed");
                expect(seed.options.replaceOnChanges, p.stack).to.deep.equal(["*"]);
                // Its name is fixed: the old job goes first.
                expect(seed.options.deleteBeforeReplace, p.stack).to.equal(true);
                expect(one(p, JOB, "model-sync-job").options.replaceOnChanges, p.stack).to.equal(undefined);
            }
        });

        // mmv1 templates/terraform/pre_delete/cloudrunv2_job_deletion_policy.go.tmpl: the provider
        // refuses to delete a job whose state has deletion_protection ("cannot destroy job without
        // setting deletion_protection=false"), which would stop both a replacement and prod's
        // seedOnCreate: false.
        it("has no deletion protection, in prod too, so it can be replaced and switched off", async () => {
            expect(one(prod, JOB, "model-sync-seed").inputs.deletionProtection).to.equal(false);
            expect(one(prod, JOB, "model-sync-job").inputs.deletionProtection).to.equal(true);
            const off = await evaluateWith({ "warmstart:sync": { ...JSON.parse(stackFileConfig("prod")["warmstart:sync"]), seedOnCreate: false } }, "prod");
            expect(byType(off, JOB).map((j) => j.name)).to.deep.equal(["model-sync-job"]);
        });

        it("is switched off by sync.seedOnCreate: false", async () => {
            const p = await syncWith({ seedOnCreate: false });
            expect(byType(p, JOB).map((j) => j.name)).to.deep.equal(["model-sync-job"]);
            expect(dependsOn(one(p, SERVICE, "embeddings-service"), one(p, JOB, "model-sync-job"))).to.equal(false);
        });
    });

    describe("protections by environment", () => {
        it("protects and retains the bucket, and keeps Cloud Run and the registry in prod", () => {
            const bucket = one(prod, "gcp:storage/bucket:Bucket", "model-cache-bucket");
            expect([bucket.options.protect, bucket.options.retainOnDelete, bucket.inputs.forceDestroy]).to.deep.equal([true, true, false]);
            expect(one(prod, "gcp:cloudrunv2/service:Service", "embeddings-service").inputs.deletionProtection).to.equal(true);
            expect(one(prod, "gcp:cloudrunv2/job:Job", "model-sync-job").inputs.deletionProtection).to.equal(true);
            for (const repo of byType(prod, "gcp:artifactregistry/repository:Repository")) expect(repo.options.retainOnDelete, repo.name).to.equal(true);
        });

        it("tears prod down whole once deletionProtection is off, the bucket and its models included, as docs/operations.md says", async () => {
            const off = await evaluateWith({ "warmstart:deletionProtection": "false" }, "prod");
            const bucket = one(off, "gcp:storage/bucket:Bucket", "model-cache-bucket");
            expect([bucket.options.protect, bucket.options.retainOnDelete, bucket.inputs.forceDestroy]).to.deep.equal([undefined, undefined, true]);
            for (const job of byType(off, "gcp:cloudrunv2/job:Job")) expect(job.inputs.deletionProtection, job.name).to.equal(false);
            for (const svc of byType(off, "gcp:cloudrunv2/service:Service")) expect(svc.inputs.deletionProtection, svc.name).to.equal(false);
            expect(off.resources.filter((r) => r.options.protect || r.options.retainOnDelete).map((r) => r.name)).to.deep.equal([]);
            const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "operations.md"), "utf8");
            const teardown = doc.slice(doc.indexOf("To really tear down a prod stack"), doc.indexOf("## First deploy"));
            expect(teardown).to.include("`pulumi destroy`, which deletes everything: the bucket with every model in it");
            expect(teardown).not.to.match(/left in GCP|kept|retained on delete\)/);
        });

        it("leaves dev disposable so pulumi destroy works", () => {
            const bucket = one(dev, "gcp:storage/bucket:Bucket", "model-cache-bucket");
            expect([bucket.options.protect, bucket.options.retainOnDelete, bucket.inputs.forceDestroy]).to.deep.equal([undefined, undefined, true]);
            expect(one(dev, "gcp:cloudrunv2/service:Service", "embeddings-service").inputs.deletionProtection).to.equal(false);
            expect(one(dev, "gcp:cloudrunv2/job:Job", "model-sync-job").inputs.deletionProtection).to.equal(false);
            expect(dev.resources.filter((r) => r.options.protect || r.options.retainOnDelete).map((r) => r.name)).to.deep.equal([]);
        });
    });

    describe("runbook", () => {
        const runbook = fs.readFileSync(path.join(REPO_ROOT, "docs", "operations.md"), "utf8");

        it("exists, is linked from the README, and its commands read names from the stack's real outputs", () => {
            expect(runbook).to.match(/^# Operations\n/);
            expect(fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8")).to.include("](docs/operations.md)");
            const used = [...runbook.matchAll(/pulumi stack output (\w+)/g)].map((m) => m[1]);
            expect(used.length).to.be.at.least(4);
            for (const output of used) expect(Object.keys(dev.outputs), output).to.include(output);
        });

        it("explains each alert the stack creates", () => {
            for (const policy of byType(prod, POLICY)) {
                const title = String(policy.inputs.displayName).replace(/\d+( %| GiB| times)?/g, "").split(" ").slice(0, 3).join(" ");
                expect(runbook, policy.name).to.include(title);
            }
        });
    });
});
