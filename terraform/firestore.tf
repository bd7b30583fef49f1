resource "google_firestore_database" "this" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Worlds, tokens and the audit chain live here: a destroy must not take them along.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}

# The composite indexes of firestore.indexes.json (which the emulator reads);
# scripts/src/test/terraform-registry.test.ts keeps the two equal.

resource "google_firestore_index" "events_world_time" {
  database    = google_firestore_database.this.name
  collection  = "events"
  query_scope = "COLLECTION"

  fields {
    field_path = "world"
    order      = "ASCENDING"
  }

  fields {
    field_path = "time"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "events_type_time" {
  database    = google_firestore_database.this.name
  collection  = "events"
  query_scope = "COLLECTION"

  fields {
    field_path = "type"
    order      = "ASCENDING"
  }

  fields {
    field_path = "time"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "events_correlation_id_time" {
  database    = google_firestore_database.this.name
  collection  = "events"
  query_scope = "COLLECTION"

  fields {
    field_path = "correlationId"
    order      = "ASCENDING"
  }

  fields {
    field_path = "time"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "events_world_type_time" {
  database    = google_firestore_database.this.name
  collection  = "events"
  query_scope = "COLLECTION"

  fields {
    field_path = "world"
    order      = "ASCENDING"
  }

  fields {
    field_path = "type"
    order      = "ASCENDING"
  }

  fields {
    field_path = "time"
    order      = "ASCENDING"
  }
}
