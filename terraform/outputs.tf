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
  description = "Identity of the Pub/Sub push subscriptions and the scheduler jobs."
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

output "push_subscriptions" {
  description = "Per registry push subscription: the function URL it pushes to."
  value       = { for name, sub in google_pubsub_subscription.push : name => sub.push_config[0].push_endpoint }
}

output "agent_workload_identity_provider" {
  description = "Full name of the workload identity provider for non-GKE agent clusters (empty when agent_oidc_issuer_uri is not set)."
  value       = var.agent_oidc_issuer_uri == "" ? "" : google_iam_workload_identity_pool_provider.agent[0].name
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
