connector {
  log_level = "info"
}

partner "acme" {
  password = "PW"
}

plugin "s3" {
  builtin = "s3"
}

inbound "all" {
  files = ["*"]
}
