# One function per entry of FUNCTIONS in shared/src/topology.ts. All five deploy the
# same archive; entry_point selects the handler registered under that name.

locals {
  function_env = {
    FF_METRICS = "cloud-monitoring"
    # The runtime does not set it, and loadEnv would fall back to fleetforge-local.
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_LEVEL            = var.log_level
  }

  event_functions = {
    reconcileWorld = google_cloudfunctions2_function.reconcile_world
    ingestMetrics  = google_cloudfunctions2_function.ingest_metrics
    onAgentReport  = google_cloudfunctions2_function.on_agent_report
  }
}

resource "google_cloudfunctions2_function" "api" {
  name        = "api"
  location    = var.region
  description = "HTTPS API used by ffctl and clients"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "api"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions.email
    environment_variables          = local.function_env
    available_memory               = "512Mi"
    timeout_seconds                = 60
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "reconcile_world" {
  name        = "reconcileWorld"
  location    = var.region
  description = "compares desired and actual cells of one world and converges"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "reconcileWorld"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.functions.email
    environment_variables = local.function_env
    available_memory      = "512Mi"
    # A delivery is outstanding for the ack deadline; running longer only earns a duplicate.
    timeout_seconds                = local.push_subscriptions["world-reconcile-push"].ack_deadline_seconds
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = local.push_subscriptions["world-reconcile-push"].topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.invoker.email
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "ingest_metrics" {
  name        = "ingestMetrics"
  location    = var.region
  description = "records cell load windows with bounded writes"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "ingestMetrics"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions.email
    environment_variables          = local.function_env
    available_memory               = "512Mi"
    timeout_seconds                = local.push_subscriptions["cell-metrics-push"].ack_deadline_seconds
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = local.push_subscriptions["cell-metrics-push"].topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.invoker.email
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "on_agent_report" {
  name        = "onAgentReport"
  location    = var.region
  description = "applies agent observations (started, ready, exited) to cell state"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "onAgentReport"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions.email
    environment_variables          = local.function_env
    available_memory               = "512Mi"
    timeout_seconds                = local.push_subscriptions["agent-reports-push"].ack_deadline_seconds
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = local.push_subscriptions["agent-reports-push"].topic
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.invoker.email
  }

  depends_on = [google_project_service.apis]
}

# Private through IAM, not ingress: Cloud Scheduler calls its URL with an OIDC token
# of the invoker service account, the only principal granted run.invoker on it.
resource "google_cloudfunctions2_function" "sentinel" {
  name        = "sentinel"
  location    = var.region
  description = "scheduled sweep: re-queues every world for a level-based reconcile"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "sentinel"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.functions.email
    environment_variables = local.function_env
    available_memory      = "512Mi"
    timeout_seconds       = 60
    # Sweeps are idempotent but pointless in parallel.
    max_instance_count             = 1
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
  }

  depends_on = [google_project_service.apis]
}
