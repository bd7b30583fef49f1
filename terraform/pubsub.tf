# The topics and subscriptions of var.registry (TOPICS and SUBSCRIPTIONS in
# shared/src/topology.ts), keyed by their names.

resource "google_pubsub_topic" "this" {
  for_each = toset(values(var.registry.topics))

  name       = each.value
  depends_on = [google_project_service.apis]
}

locals {
  dead_letter_topic = google_pubsub_topic.this[var.registry.topics.deadLetter]

  # The registry's push subscriptions deliver a topic to a function. On GCP that is
  # the function's Pub/Sub trigger (functions.tf): Eventarc creates and owns the
  # subscription behind it, under a generated name, and the trigger API accepts no
  # dead-letter or ack settings. So the triggers take their topic and timeout from
  # these entries, and README.md shows how the dead-letter policy and ack deadline
  # are put on the Eventarc subscriptions (output push_triggers).
  push_subscriptions = { for s in var.registry.subscriptions : s.name => s if s.delivery.kind == "push" }

  # The one pull subscription of each consumer (agent, operator), by name.
  pull_subscription_of = { for s in var.registry.subscriptions : s.delivery.consumer => s.name if s.delivery.kind == "pull" }
}

resource "google_pubsub_subscription" "pull" {
  for_each = { for s in var.registry.subscriptions : s.name => s if s.delivery.kind == "pull" }

  name                 = each.key
  topic                = google_pubsub_topic.this[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds

  # Agents can sit idle for weeks; the default 31-day expiry would delete the
  # subscription from under them.
  expiration_policy {
    ttl = ""
  }

  # Not on the dead-letter topic's own subscription, which operators drain by hand:
  # it is where dead letters end up.
  dynamic "dead_letter_policy" {
    for_each = each.value.topic == var.registry.topics.deadLetter ? [] : [each.value.max_delivery_attempts]

    content {
      dead_letter_topic     = local.dead_letter_topic.id
      max_delivery_attempts = dead_letter_policy.value
    }
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "10s"
  }
}
