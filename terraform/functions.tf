# The functions of var.registry (FUNCTIONS in shared/src/ports/topology.ts). All of them
# deploy the same archive; entry_point selects the handler registered under that name.
# The cloudevent functions differ only by their registry entries and share one
# resource; the two HTTP functions differ in who may call them and are spelled out.

locals {
  # What every function's build_config and service_config share.
  function_build = {
    runtime         = "nodejs22"
    service_account = var.build_service_account
    bucket          = google_storage_bucket.source.name
    object          = google_storage_bucket_object.functions_source.name
  }
  function_service = {
    service_account_email = google_service_account.functions.email
    available_memory      = "512Mi"
    environment_variables = merge(
      {
        FF_METRICS = "cloud-monitoring"
        # The location of the functions' Cloud Monitoring series.
        FF_REGION = var.region
        # The runtime does not set it, and loadEnv would fall back to fleetforge-local.
        GOOGLE_CLOUD_PROJECT = var.project_id
        LOG_LEVEL            = var.log_level
        # Billing exports (api serves listings and audits; billingExport writes them).
        FF_EXPORTS_BUCKET = google_storage_bucket.exports.name
        # billingExport updates its own Cloud Scheduler job when config/billing changes the interval.
        FF_SCHEDULER_LOCATION = var.region
      },
      # provisionTenant pages dedicated-pool alerts here (docs/runbooks/dedicated-pool-alerts.md).
      var.alert_webhook_url == "" ? {} : { FF_ALERT_WEBHOOK_URL = var.alert_webhook_url },
    )
  }

  # The push subscription that delivers to each cloudevent function.
  push_subscription_to = { for s in values(local.push_subscriptions) : s.delivery.function => s }

  # The HTTP functions by name, for the scheduler jobs' targets.
  http_functions = {
    (var.registry.functions.api.name)           = google_cloudfunctions2_function.api
    (var.registry.functions.sentinel.name)      = google_cloudfunctions2_function.sentinel
    (var.registry.functions.billingExport.name) = google_cloudfunctions2_function.billing_export
  }

  # The manifest signing key, from Secret Manager, for the functions that sign or verify.
  billing_key_env = {
    key     = "FF_BILLING_KEY"
    secret  = google_secret_manager_secret.billing_key.secret_id
    version = "latest"
  }
}

resource "google_cloudfunctions2_function" "event" {
  for_each = { for f in values(var.registry.functions) : f.name => f if f.signature == "cloudevent" }

  name        = each.key
  location    = var.region
  description = each.value.description

  build_config {
    runtime         = local.function_build.runtime
    entry_point     = each.key
    service_account = local.function_build.service_account

    source {
      storage_source {
        bucket = local.function_build.bucket
        object = local.function_build.object
      }
    }
  }

  service_config {
    service_account_email = local.function_service.service_account_email
    environment_variables = local.function_service.environment_variables
    available_memory      = local.function_service.available_memory
    # A delivery is outstanding for the ack deadline; running longer only earns a duplicate.
    timeout_seconds    = local.push_subscription_to[each.key].ack_deadline_seconds
    max_instance_count = var.function_max_instances
    # Pub/Sub push counts as internal traffic to Cloud Run.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "api" {
  name        = var.registry.functions.api.name
  location    = var.region
  description = var.registry.functions.api.description

  build_config {
    runtime         = local.function_build.runtime
    entry_point     = var.registry.functions.api.name
    service_account = local.function_build.service_account

    source {
      storage_source {
        bucket = local.function_build.bucket
        object = local.function_build.object
      }
    }
  }

  service_config {
    service_account_email          = local.function_service.service_account_email
    environment_variables          = local.function_service.environment_variables
    available_memory               = local.function_service.available_memory
    timeout_seconds                = 60
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    secret_environment_variables {
      key        = local.billing_key_env.key
      project_id = var.project_id
      secret     = local.billing_key_env.secret
      version    = local.billing_key_env.version
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.functions_billing_key]
}

# Private through IAM, not ingress: Cloud Scheduler calls its URL with an OIDC token
# of the invoker service account, the only principal granted run.invoker on it.
resource "google_cloudfunctions2_function" "sentinel" {
  name        = var.registry.functions.sentinel.name
  location    = var.region
  description = var.registry.functions.sentinel.description

  build_config {
    runtime         = local.function_build.runtime
    entry_point     = var.registry.functions.sentinel.name
    service_account = local.function_build.service_account

    source {
      storage_source {
        bucket = local.function_build.bucket
        object = local.function_build.object
      }
    }
  }

  service_config {
    service_account_email = local.function_service.service_account_email
    environment_variables = local.function_service.environment_variables
    available_memory      = local.function_service.available_memory
    timeout_seconds       = 60
    # Sweeps are idempotent but pointless in parallel.
    max_instance_count             = 1
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
  }

  depends_on = [google_project_service.apis]
}

# Private through IAM like sentinel: Cloud Scheduler calls it hourly with the
# invoker's OIDC token. One instance: exports of one chain are serialized anyway.
resource "google_cloudfunctions2_function" "billing_export" {
  name        = var.registry.functions.billingExport.name
  location    = var.region
  description = var.registry.functions.billingExport.description

  build_config {
    runtime         = local.function_build.runtime
    entry_point     = var.registry.functions.billingExport.name
    service_account = local.function_build.service_account

    source {
      storage_source {
        bucket = local.function_build.bucket
        object = local.function_build.object
      }
    }
  }

  service_config {
    service_account_email          = local.function_service.service_account_email
    environment_variables          = local.function_service.environment_variables
    available_memory               = "1Gi"
    timeout_seconds                = 300
    max_instance_count             = 1
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    secret_environment_variables {
      key        = local.billing_key_env.key
      project_id = var.project_id
      secret     = local.billing_key_env.secret
      version    = local.billing_key_env.version
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.functions_billing_key]
}
