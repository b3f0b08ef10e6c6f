// Where Cloud Storage keeps a bucket: the regions, the predefined dual-regions and the
// multi-regions a bucket may be created in. Read 2026-12-03: the region list of
// cloud.google.com/storage/pricing ("Data storage": africa-south1 to europe-west9 and the North
// American regions in the stored copy, which cuts off after them) and, for the rest and the dual-
// and multi-region names, the Cloud Billing Catalog's Cloud Storage SKUs as transcribed in
// github.com/Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (generated 2026-08-20).
// Configurable dual-regions and the predefined ones without a price read (EUR5, EUR7, EUR8, …) are
// left out: the cost estimate could not price them. Each location here has a price in pricing/gcp.json.

/** Single regions, lower case as the price ids spell them. */
export const STORAGE_REGIONS = [
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1",
    "asia-south2", "asia-southeast1", "asia-southeast2", "asia-southeast3", "australia-southeast1", "australia-southeast2",
    "europe-central2", "europe-north1", "europe-north2", "europe-southwest1", "europe-west1", "europe-west10",
    "europe-west12", "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9",
    "me-central1", "me-central2", "me-west1", "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
    "southamerica-east1", "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
    "us-west2", "us-west3", "us-west4",
] as const;

/** Predefined dual-regions: Tokyo and Osaka, Finland and Netherlands, Iowa and South Carolina. */
export const STORAGE_DUAL_REGIONS = ["asia1", "eur4", "nam4"] as const;

export const STORAGE_MULTI_REGIONS = ["asia", "eu", "us"] as const;

/** Every location `modelCache.location` accepts, lower case (Cloud Storage reads them in any case). */
export const BUCKET_LOCATIONS: readonly string[] = [...STORAGE_REGIONS, ...STORAGE_DUAL_REGIONS, ...STORAGE_MULTI_REGIONS];
