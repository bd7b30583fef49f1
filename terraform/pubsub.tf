# Topics and subscriptions of shared/src/topology.ts, by their literal names:
# scripts/src/test/terraform-registry.test.ts fails when the two disagree.

resource "google_pubsub_topic" "world_reconcile" {
  name       = "world-reconcile"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "cell_metrics" {
  name       = "cell-metrics"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "agent_commands" {
  name       = "agent-commands"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "agent_reports" {
  name       = "agent-reports"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  name       = "fleetforge-dead-letter"
  depends_on = [google_project_service.apis]
}

locals {
  # The registry's push subscriptions deliver a topic to a function. On GCP that is
  # the function's Pub/Sub trigger (functions.tf): Eventarc creates and owns the
  # subscription behind it, under a generated name, and the trigger API accepts no
  # dead-letter or ack settings. So the registry names live on here as keys, and the
  # triggers take their topic and timeout from these entries; README.md shows how the
  # dead-letter policy and ack deadline are put on the Eventarc subscriptions.
  push_subscriptions = {
    "world-reconcile-push" = {
      topic                 = google_pubsub_topic.world_reconcile.id
      function              = "reconcileWorld"
      ack_deadline_seconds  = 60
      max_delivery_attempts = 10
    }
    "cell-metrics-push" = {
      topic                 = google_pubsub_topic.cell_metrics.id
      function              = "ingestMetrics"
      ack_deadline_seconds  = 30
      max_delivery_attempts = 5
    }
    "agent-reports-push" = {
      topic                 = google_pubsub_topic.agent_reports.id
      function              = "onAgentReport"
      ack_deadline_seconds  = 60
      max_delivery_attempts = 10
    }
  }
}

resource "google_pubsub_subscription" "agent_commands_pull" {
  name                 = "agent-commands-pull"
  topic                = google_pubsub_topic.agent_commands.id
  ack_deadline_seconds = 60

  # Agents can sit idle for weeks; the default 31-day expiry would delete the
  # subscription from under them.
  expiration_policy {
    ttl = ""
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "10s"
  }
}

# Operators drain this by hand. It has no dead-letter policy of its own: it is
# where dead letters end up.
resource "google_pubsub_subscription" "dead_letter_pull" {
  name                 = "dead-letter-pull"
  topic                = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds = 60

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "10s"
  }
}
