variable "project_id" {
  description = "Google Cloud project that hosts the FleetForge control plane."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler jobs and the buckets."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Firestore location: a region (europe-west1) or a multi-region (eur3). Fixed once the database exists."
  type        = string
  default     = "europe-west1"
}

variable "source_bucket" {
  description = "Bucket for the functions source archives. Defaults to <project_id>-fleetforge-source."
  type        = string
  default     = null
}

variable "source_zip" {
  description = "Local path of the functions archive (see README.md). Defaults to dist/functions.zip at the repository root."
  type        = string
  default     = null
}

variable "exports_bucket" {
  description = "Bucket for export artifacts. Defaults to <project_id>-fleetforge-exports."
  type        = string
  default     = null
}

variable "exports_retention_days" {
  description = "Days an export artifact is kept before the bucket deletes it."
  type        = number
  default     = 30

  validation {
    condition     = var.exports_retention_days >= 1
    error_message = "exports_retention_days must be at least 1."
  }
}

variable "admin_token_secret" {
  description = "Secret Manager secret id that holds the bootstrap admin API token."
  type        = string
  default     = "fleetforge-admin-token"
}

variable "billing_key_secret" {
  description = "Secret Manager secret id that holds the HMAC key signing billing export manifests (base64, 32+ bytes)."
  type        = string
  default     = "fleetforge-billing-key"
}

variable "api_invoker_members" {
  description = "Principals allowed to reach the api function. The API checks bearer tokens itself, so the default is public; narrow it where an org policy forbids allUsers."
  type        = list(string)
  default     = ["allUsers"]
}

variable "build_service_account" {
  description = "Service account Cloud Build uses to build the functions (projects/<project>/serviceAccounts/<email>). Null keeps the project default."
  type        = string
  default     = null
}

variable "function_max_instances" {
  description = "Upper bound on instances per function; caps Firestore contention and cost under a message storm."
  type        = number
  default     = 20
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["fatal", "error", "warn", "info", "debug", "trace", "silent"], var.log_level)
    error_message = "log_level must be one of fatal, error, warn, info, debug, trace, silent."
  }
}

# Set by registry.auto.tfvars.json, which `npm run gen` writes from shared/src/ports/topology.ts
# and firestore.indexes.json: every topic, subscription, function, scheduler job and
# index name in this directory comes from here. Keys of topics and functions are the
# registry's (TOPICS.deadLetter is topics.deadLetter).
variable "registry" {
  description = "The FleetForge registry (generated; do not edit registry.auto.tfvars.json by hand)."
  type = object({
    topics = map(string)
    subscriptions = list(object({
      name  = string
      topic = string
      delivery = object({
        kind     = string           # push (to a function) or pull (by a consumer)
        function = optional(string) # push only
        consumer = optional(string) # pull only: agent or operator
      })
      ack_deadline_seconds  = number
      max_delivery_attempts = number
    }))
    functions = map(object({
      name        = string
      signature   = string # http or cloudevent
      description = string
      publishes   = list(string) # topic names
    }))
    scheduler_jobs = list(object({
      name        = string
      schedule    = string
      target      = string # an http function's name
      description = string
    }))
    firestore_indexes = list(object({
      collection  = string
      query_scope = string
      fields = list(object({
        field_path   = string
        order        = optional(string)
        array_config = optional(string)
      }))
    }))
  })
}

variable "alert_webhook_url" {
  description = "Pager webhook for dedicated-pool alerts (empty: alerts are events and logs only)."
  type        = string
  default     = ""
}

variable "agent_kubernetes_service_account" {
  description = "Kubernetes service account the agent runs as (agent/deploy/serviceaccount.yaml)."
  type = object({
    namespace = string
    name      = string
  })
  default = {
    namespace = "fleetforge-system"
    name      = "fleetforge-agent"
  }
}

variable "agent_gke_workload_identity" {
  description = "Let the agent's Kubernetes service account act as the agent account through GKE Workload Identity (needs a GKE cluster with Workload Identity in this project)."
  type        = bool
  default     = true
}

variable "agent_oidc_issuer_uri" {
  description = "OIDC issuer of a non-GKE cluster that runs the agent; set, it creates a workload identity pool that trusts it. Empty: none."
  type        = string
  default     = ""
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/<p>/notificationChannels/<id>) the alert policies notify. Empty: incidents show in the console only."
  type        = list(string)
  default     = []
}

variable "stuck_operation_seconds" {
  description = "Age past which an unfinished split, merge or recovery alerts."
  type        = number
  default     = 600
}
