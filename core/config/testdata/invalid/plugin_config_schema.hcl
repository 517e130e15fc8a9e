identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

plugin "archive" {
  builtin = "s3"
  config {
    bucket     = "invoices"
    part_size  = "large"
    tags       = { team = "edi" }
    secret_key = "written-in-plain-text"
    regoin     = "eu-central-1"
  }
}

plugin "backup" {
  builtin = "s3"
  config {
    region = "eu-west-1"
  }
}

# Decodes against the schema, but the plugin itself refuses the bucket name.
plugin "refused" {
  builtin = "s3"
  config {
    bucket     = "Invoices"
    secret_key = env("S3_SECRET")
  }
}
