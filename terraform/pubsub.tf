# The topics and subscriptions of var.registry (TOPICS and SUBSCRIPTIONS in
# shared/src/ports/topology.ts), keyed by their names.

resource "google_pubsub_topic" "this" {
  for_each = toset(values(var.registry.topics))

  name       = each.value
  depends_on = [google_project_service.apis]
}

locals {
  dead_letter_topic = google_pubsub_topic.this[var.registry.topics.deadLetter]

  # The registry's push subscriptions deliver a topic to a function, as the local
  # stack's do: Pub/Sub POSTs each message to the function's URL with an OIDC token
  # of the invoker account, and functions-framework turns the raw push into the
  # CloudEvent the handler takes (it reads the topic from the URL path). Declared
  # here rather than as Eventarc triggers, whose subscriptions Terraform cannot give
  # a dead-letter policy or an ack deadline.
  push_subscriptions = { for s in var.registry.subscriptions : s.name => s if s.delivery.kind == "push" }

  # Every subscription of the registry, push and pull, by name.
  subscriptions = merge(google_pubsub_subscription.pull, google_pubsub_subscription.push)

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

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  name                 = each.key
  topic                = google_pubsub_topic.this[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds

  push_config {
    # The topic path in the URL is what functions-framework builds the CloudEvent's
    # source from (functions/src/adapters/pubsub-bus.ts does the same locally).
    push_endpoint = "${google_cloudfunctions2_function.event[each.value.delivery.function].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic}"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.event[each.value.delivery.function].service_config[0].uri
    }
  }

  expiration_policy {
    ttl = ""
  }

  dead_letter_policy {
    dead_letter_topic     = local.dead_letter_topic.id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "10s"
  }

  # The token the push carries must be mintable before the first message.
  depends_on = [google_service_account_iam_member.pubsub_invoker_tokens]
}
