# A complete configuration: every block and most attributes.

variable "region" {
  default = "eu-central-1"
}

variable "poll" {
  type    = string
  default = "45s"
}

variable "credit" {
  type    = number
  default = 32
}

connector {
  state_dir  = "./state"
  log_level  = "debug"
  plugin_dir = "/opt/connector/plugins"
  work_dir   = "/var/tmp/connector"
}

listener "tls" {
  address = "127.0.0.1:6619"
  tls {
    cert_file           = "tls/server.pem"
    key_file            = "tls/server.key"
    client_ca_file      = "tls/clients.pem"
    require_client_cert = true
    min_version         = "1.3"
  }
}

listener "plain" {
  address = "127.0.0.1"
}

identity {
  ssid      = "O0013000000ACME"
  sfid      = "O0013000000ACME01"
  password  = env("OFTP_PASSWORD")
  user_data = "EDI"
  keys      = keys.main
}

partner "partner" {
  ssid               = "O0013000000PARTNER"
  password           = "s3cret"
  our_password       = "OTHER"
  address            = "oftp.partner.example"
  ca_file            = "/etc/ssl/partner-ca.pem"
  server_name        = "oftp.partner.example"
  server_fingerprint = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
  proxy              = "socks5://proxyuser:proxypass@127.0.0.1:1080"
  enforce_version    = true
  buffer_size        = 99999
  credit             = var.credit
  buffer_compression = true
  restart            = false
  connection_type    = "both"
  timeout            = "2m30s"

  security {
    level                 = "both"
    cipher_suite          = "aes256-sha256"
    file_compression      = true
    signed_receipts       = true
    certificate_file      = "certs/partner.pem"
    secure_authentication = true
    sha1_receipt_compat   = true
  }

  schedule {
    every = "15m"
    at    = ["08:00", "17:30"]
  }
}

partner "legacy" {
  ssid            = "O0013000000LEGACY"
  sfid            = "O0013000000LEGACY-EDI"
  password_file   = "secrets/legacy.pw"
  version         = "1.3"
  address         = "192.0.2.7:3305"
  connection_type = "receive"
}

plugin "s3-archive" {
  builtin = "s3"
  config {
    bucket = "oftp-inbox"
    region = var.region
  }
}

plugin "outbox" {
  path   = "./bin/outbox-plugin"
  sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
}

plugin "kms" {
  builtin = "kms"
}

keys "main" {
  local {
    cert_file         = "keys/acme.pem"
    key_file          = "keys/acme.key"
    key_password_file = "secrets/key.pw"
  }
}

keys "signing" {
  plugin = plugin.kms
  key_id = "alias/oftp-signing"
}

inbound "from-partner" {
  partners    = [partner.partner, "legacy"]
  files       = ["INVOICE*", "DELFOR*"]
  sink        = plugin.s3-archive
  object_name = "%Originator%/%VirtualFileName%_%VirtualFileDate:yyyyMMdd-HHmmss.ffff%_%GUID%"
}

inbound "everything-else" {
  sink = plugin.s3-archive
}

outbound "to-partner" {
  source          = plugin.outbox
  partner         = partner.partner
  poll            = var.poll
  sign_with       = keys.signing
  format          = "V"
  max_record_size = 4096
  description     = "Invoices from ACME"
  retry {
    max_attempts = 5
    backoff      = "30s"
    max_backoff  = "2h"
  }
}
