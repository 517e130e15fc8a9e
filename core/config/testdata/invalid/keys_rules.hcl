identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
  keys     = keys.missing
}

plugin "kms" {
  builtin = "kms"
}

keys "both" {
  plugin = plugin.kms
  key_id = "alias/x"
  local {
    cert_file = "a.pem"
    key_file  = "a.key"
  }
}

keys "none" {
}

keys "noid" {
  plugin = plugin.kms
}
