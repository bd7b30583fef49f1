# Alert policies and a dashboard on what the functions write to Cloud Monitoring
# (functions/src/adapters/cloud-monitoring-metrics.ts): custom metrics named after
# the catalogue (shared/src/ports/metrics.ts), one generic_task series per function
# instance, so every query reduces across task_id. Runbook: docs/runbook.md.

locals {
  metric = "custom.googleapis.com/fleetforge"
  # One series per function instance: a filter on a custom metric plus the resource it is written under.
  custom                   = "resource.type = \"generic_task\" AND resource.label.namespace = \"fleetforge\""
  dead_letter_subscription = google_pubsub_subscription.pull[local.pull_subscription_of.operator].name
}

resource "google_monitoring_alert_policy" "stuck_operations" {
  display_name = "FleetForge: operation stuck"
  combiner     = "OR"

  conditions {
    display_name = "oldest active operation of a world older than ${var.stuck_operation_seconds}s"

    condition_threshold {
      filter          = "metric.type = \"${local.metric}/fleetforge_operation_oldest_active_seconds\" AND ${local.custom}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.stuck_operation_seconds
      duration        = "120s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.world"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A split, merge or recovery has not finished. See docs/runbook.md, \"An operation is stuck\": `ffctl ops <world>` and `ffctl events --world <world>`."
  }

  notification_channels = var.alert_notification_channels
  depends_on            = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "dead_letter_backlog" {
  display_name = "FleetForge: dead letters waiting"
  combiner     = "OR"

  conditions {
    display_name = "undelivered messages on the dead-letter subscription"

    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = \"${local.dead_letter_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Poison messages were dead-lettered. See docs/runbook.md, \"Messages in the dead-letter subscription\": `gcloud pubsub subscriptions pull ${local.dead_letter_subscription} --limit 10 --format=json` shows them with their reason attribute."
  }

  notification_channels = var.alert_notification_channels
  depends_on            = [google_project_service.apis]
}

# The same conditions as the pager webhook (docs/runbooks/dedicated-pool-alerts.md),
# from the pool gauges provisionTenant writes.
resource "google_monitoring_alert_policy" "dedicated_pool" {
  display_name = "FleetForge: dedicated pool at risk"
  combiner     = "OR"

  conditions {
    display_name = "pool CPU or memory requests above 80% of allocatable"

    condition_threshold {
      filter          = "metric.type = \"${local.metric}/fleetforge_tenant_pool_utilization_ratio\" AND ${local.custom}"
      comparison      = "COMPARISON_GT"
      threshold_value = 0.8
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.tenant", "metric.label.resource"]
      }
    }
  }

  conditions {
    display_name = "one ready node or none left in the pool"

    condition_threshold {
      filter          = "metric.type = \"${local.metric}/fleetforge_tenant_pool_nodes\" AND ${local.custom}"
      comparison      = "COMPARISON_LT"
      threshold_value = 2
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MIN"
        cross_series_reducer = "REDUCE_MIN"
        group_by_fields      = ["metric.label.tenant"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "See docs/runbooks/dedicated-pool-alerts.md: `ffctl tenant status <tenant>` shows the pool's nodes and headroom."
  }

  notification_channels = var.alert_notification_channels
  depends_on            = [google_project_service.apis]
}

locals {
  # One line chart: a title and the filter/aggregation of its one query.
  dashboard_charts = [
    { title = "Messages handled by function and outcome (/s)", filter = "metric.type = \"${local.metric}/fleetforge_messages_total\" AND ${local.custom}", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.function", "metric.label.outcome"] },
    { title = "API requests by route and status (/s)", filter = "metric.type = \"${local.metric}/fleetforge_api_requests_total\" AND ${local.custom}", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.status"] },
    { title = "Reconcile duration p95 (s)", filter = "metric.type = \"${local.metric}/fleetforge_reconcile_duration_seconds\" AND ${local.custom}", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", group_by = [] },
    { title = "Split duration p95 (s)", filter = "metric.type = \"${local.metric}/fleetforge_split_duration_seconds\" AND ${local.custom}", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", group_by = [] },
    { title = "Oldest active operation by world (s)", filter = "metric.type = \"${local.metric}/fleetforge_operation_oldest_active_seconds\" AND ${local.custom}", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["metric.label.world"] },
    { title = "Worlds degraded", filter = "metric.type = \"${local.metric}/fleetforge_world_degraded\" AND ${local.custom}", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["metric.label.world"] },
    { title = "Dedicated pool utilisation", filter = "metric.type = \"${local.metric}/fleetforge_tenant_pool_utilization_ratio\" AND ${local.custom}", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["metric.label.tenant", "metric.label.resource"] },
    { title = "Dead letters waiting", filter = "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = \"${local.dead_letter_subscription}\"", aligner = "ALIGN_MAX", reducer = "REDUCE_NONE", group_by = [] },
  ]
}

resource "google_monitoring_dashboard" "fleetforge" {
  dashboard_json = jsonencode({
    displayName = "FleetForge control plane"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, c in local.dashboard_charts : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = c.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = c.filter
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = c.aligner
                      crossSeriesReducer = c.reducer
                      groupByFields      = c.group_by
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })

  depends_on = [google_project_service.apis]
}
