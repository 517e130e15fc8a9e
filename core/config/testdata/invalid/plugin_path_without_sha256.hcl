identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

plugin "custom" {
  path = "./bin/my-sink"
}

plugin "badsum" {
  path   = "./bin/other-sink"
  sha256 = "not-a-checksum"
}
