# One job per entry of SCHEDULER_JOBS in shared/src/topology.ts.

resource "google_cloud_scheduler_job" "sentinel_sweep" {
  name        = "sentinel-sweep"
  description = "re-queue every world for reconcile; heals lost messages"
  region      = var.region
  schedule    = "* * * * *"
  time_zone   = "Etc/UTC"
  # No longer than the sentinel's own timeout; the next tick is the retry.
  attempt_deadline = "60s"

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.sentinel.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.sentinel.service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis]
}
