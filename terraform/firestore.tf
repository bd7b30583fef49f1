resource "google_firestore_database" "this" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Worlds, tokens and the audit chain live here: a destroy must not take them along.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}

# The composite indexes of firestore.indexes.json (which the emulator reads), via
# var.registry; keyed by collection and fields, e.g. events_world_time.
resource "google_firestore_index" "this" {
  for_each = { for ix in var.registry.firestore_indexes : join("_", concat([ix.collection], ix.fields[*].field_path)) => ix }

  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields

    content {
      field_path   = fields.value.field_path
      order        = fields.value.order
      array_config = fields.value.array_config
    }
  }
}
