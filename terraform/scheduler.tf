# The jobs of var.registry (SCHEDULER_JOBS in shared/src/ports/topology.ts).

resource "google_cloud_scheduler_job" "this" {
  for_each = { for job in var.registry.scheduler_jobs : job.name => job }

  name        = each.key
  description = each.value.description
  region      = var.region
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"
  # No longer than the target's own timeout; the next tick is the retry.
  attempt_deadline = "${local.http_functions[each.value.target].service_config[0].timeout_seconds}s"

  http_target {
    http_method = "POST"
    uri         = local.http_functions[each.value.target].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.http_functions[each.value.target].service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis]
}
