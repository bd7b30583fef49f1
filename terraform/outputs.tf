output "api_url" {
  description = "Base URL of the HTTPS API (FLEETFORGE_API for ffctl)."
  value       = google_cloudfunctions2_function.api.url
}

output "sentinel_url" {
  description = "URL of the sentinel function, which the scheduler calls."
  value       = google_cloudfunctions2_function.sentinel.service_config[0].uri
}

output "functions_service_account" {
  description = "Identity the functions run as."
  value       = google_service_account.functions.email
}

output "invoker_service_account" {
  description = "Identity of the Pub/Sub triggers and the scheduler jobs."
  value       = google_service_account.invoker.email
}

output "agent_service_account" {
  description = "Identity for fleet agents (attach it, or use workload identity federation; avoid keys)."
  value       = google_service_account.agent.email
}

output "agent_commands_subscription" {
  description = "Subscription agents pull their commands from."
  value       = google_pubsub_subscription.pull[local.pull_subscription_of.agent].id
}

output "dead_letter_subscription" {
  description = "Subscription operators drain dead letters from."
  value       = google_pubsub_subscription.pull[local.pull_subscription_of.operator].id
}

output "push_triggers" {
  description = "Per registry push subscription: the Eventarc trigger standing in for it and the delivery settings to put on its subscription (README.md)."
  value = {
    for name, sub in local.push_subscriptions : name => {
      trigger               = google_cloudfunctions2_function.event[sub.delivery.function].event_trigger[0].trigger
      ack_deadline_seconds  = sub.ack_deadline_seconds
      max_delivery_attempts = sub.max_delivery_attempts
      dead_letter_topic     = local.dead_letter_topic.name
    }
  }
}

output "source_bucket" {
  description = "Bucket holding the functions source archives."
  value       = google_storage_bucket.source.name
}

output "exports_bucket" {
  description = "Bucket holding export artifacts."
  value       = google_storage_bucket.exports.name
}

output "admin_token_secret" {
  description = "Secret Manager secret for the bootstrap admin token."
  value       = google_secret_manager_secret.admin_token.id
}
