// models: the sync program owns the schema (it receives the list as MODELS_JSON), so the stack
// and the job cannot disagree on what a model is.
export { modelSpec as modelSchema, modelList } from "../../images/model-sync/src/models";
