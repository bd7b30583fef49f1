locals {
  source_bucket  = coalesce(var.source_bucket, "${var.project_id}-fleetforge-source")
  exports_bucket = coalesce(var.exports_bucket, "${var.project_id}-fleetforge-exports")
  source_zip     = coalesce(var.source_zip, "${path.module}/../dist/functions.zip")
}

resource "google_storage_bucket" "source" {
  name                        = local.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "functions_source" {
  # Named by content: a new build is a new object, which is what redeploys the functions.
  name   = "functions-${filemd5(local.source_zip)}.zip"
  bucket = google_storage_bucket.source.name
  source = local.source_zip
}

resource "google_storage_bucket" "exports" {
  name                        = local.exports_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Export artifacts are copies of Firestore data, not the record itself; they age
  # out rather than pile up.
  lifecycle_rule {
    condition {
      age = var.exports_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}
