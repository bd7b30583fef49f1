# Three identities, each with only what it uses:
#   functions - what the handlers run as (Firestore, publishing, metrics, exports);
#   invoker   - what Pub/Sub pushes and Cloud Scheduler call the functions as, so
#               the runtime identity cannot invoke functions itself;
#   agent     - the fleet agent: pulls its commands, publishes reports and metrics.

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account" "functions" {
  account_id   = "fleetforge-functions"
  display_name = "FleetForge functions runtime"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "invoker" {
  account_id   = "fleetforge-invoker"
  display_name = "FleetForge function invoker (Pub/Sub push, Cloud Scheduler)"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "agent" {
  account_id   = "fleetforge-agent"
  display_name = "FleetForge fleet agent"
  depends_on   = [google_project_service.apis]
}

# --- functions runtime ---

resource "google_project_iam_member" "functions" {
  for_each = toset([
    "roles/datastore.user",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.functions.member
}

# The topics the handlers publish to: the union of the registry's per-function
# `publishes` (FUNCTIONS in shared/src/ports/topology.ts, checked against the code by
# functions/src/publishes.test.ts). Not the agent's topics.
resource "google_pubsub_topic_iam_member" "functions_publish" {
  for_each = toset(flatten([for f in values(var.registry.functions) : f.publishes]))

  topic  = google_pubsub_topic.this[each.value].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.functions.member
}

# BlobStore puts, gets, lists and deletes; scoped to the one bucket.
resource "google_storage_bucket_iam_member" "functions_exports" {
  bucket = google_storage_bucket.exports.name
  role   = "roles/storage.objectUser"
  member = google_service_account.functions.member
}

# --- invoking functions ---

# The Pub/Sub-triggered functions and the scheduler jobs' targets, by name.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = merge(
    { for name, fn in google_cloudfunctions2_function.event : name => fn.service_config[0].service },
    { for name in distinct(var.registry.scheduler_jobs[*].target) : name => local.http_functions[name].service_config[0].service },
  )

  location = var.region
  name     = each.value
  role     = "roles/run.invoker"
  member   = google_service_account.invoker.member
}

resource "google_cloud_run_v2_service_iam_member" "api" {
  for_each = toset(var.api_invoker_members)

  location = var.region
  name     = google_cloudfunctions2_function.api.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

# Pub/Sub signs each push delivery of the push subscriptions with an OIDC token
# of the invoker; it needs the right to mint one for that account only.
resource "google_service_account_iam_member" "pubsub_invoker_tokens" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  # The service agent only exists once the Pub/Sub API is on.
  depends_on = [google_project_service.apis]
}

# --- dead-lettering (done by the Pub/Sub service agent, not by us) ---

resource "google_pubsub_topic_iam_member" "pubsub_dead_letter_publish" {
  topic  = local.dead_letter_topic.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

# To acknowledge what it forwarded, on each subscription with a dead-letter policy.
resource "google_pubsub_subscription_iam_member" "pubsub_dead_letter_ack" {
  for_each = { for s in var.registry.subscriptions : s.name => s if s.topic != var.registry.topics.deadLetter }

  subscription = local.subscriptions[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# --- agent ---

resource "google_pubsub_subscription_iam_member" "agent_commands" {
  subscription = google_pubsub_subscription.pull[local.pull_subscription_of.agent].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.agent.member
}

resource "google_pubsub_subscription_iam_member" "agent_tenant_commands" {
  subscription = google_pubsub_subscription.pull[local.pull_subscription_of["agent-tenants"]].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.agent.member
}

resource "google_pubsub_topic_iam_member" "agent_publish" {
  # tenant-requests carries the agent's tenant observations back to provisionTenant.
  for_each = toset([var.registry.topics.agentReports, var.registry.topics.cellMetrics, var.registry.topics.tenantRequests])

  topic  = google_pubsub_topic.this[each.value].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.agent.member
}

# --- admin token ---

# Only the secret is declared: its value is added out of band (README.md) so the
# token never lands in Terraform state. The functions never read it; they check
# token hashes in Firestore.
resource "google_secret_manager_secret" "admin_token" {
  secret_id = var.admin_token_secret

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# --- agent workload identity (no key files) ---

# On GKE with Workload Identity, the agent's Kubernetes service account
# (agent/deploy/serviceaccount.yaml) acts as the agent account. The service account
# also needs the annotation iam.gke.io/gcp-service-account (README.md).
resource "google_service_account_iam_member" "agent_gke_workload_identity" {
  count = var.agent_gke_workload_identity ? 1 : 0

  service_account_id = google_service_account.agent.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.agent_kubernetes_service_account.namespace}/${var.agent_kubernetes_service_account.name}]"
}

# Any other cluster (Kind, EKS, on-premises) federates its service account tokens
# through a workload identity pool that trusts the cluster's OIDC issuer.
resource "google_iam_workload_identity_pool" "agent" {
  count = var.agent_oidc_issuer_uri == "" ? 0 : 1

  workload_identity_pool_id = "fleetforge-agents"
  display_name              = "FleetForge agents"
  depends_on                = [google_project_service.apis]
}

resource "google_iam_workload_identity_pool_provider" "agent" {
  count = var.agent_oidc_issuer_uri == "" ? 0 : 1

  workload_identity_pool_id          = google_iam_workload_identity_pool.agent[0].workload_identity_pool_id
  workload_identity_pool_provider_id = "kubernetes"
  display_name                       = "Agent cluster"
  attribute_mapping                  = { "google.subject" = "assertion.sub" }

  oidc {
    issuer_uri = var.agent_oidc_issuer_uri
  }
}

resource "google_service_account_iam_member" "agent_federated_identity" {
  count = var.agent_oidc_issuer_uri == "" ? 0 : 1

  service_account_id = google_service_account.agent.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.agent[0].name}/subject/system:serviceaccount:${var.agent_kubernetes_service_account.namespace}:${var.agent_kubernetes_service_account.name}"
}

# --- billing manifest signing key ---

# Like the admin token, only the secret is declared; its value (32+ random bytes,
# base64) is added out of band so the key never lands in Terraform state.
resource "google_secret_manager_secret" "billing_key" {
  secret_id = var.billing_key_secret

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "functions_billing_key" {
  secret_id = google_secret_manager_secret.billing_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.functions.member
}

# billingExport keeps its Cloud Scheduler job's schedule equal to live config: it may
# update jobs, and act as the invoker account those jobs call with.
resource "google_project_iam_member" "functions_scheduler" {
  project = var.project_id
  role    = "roles/cloudscheduler.admin"
  member  = google_service_account.functions.member
}

resource "google_service_account_iam_member" "functions_act_as_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.functions.member
}
