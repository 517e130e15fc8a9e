identity {
  ssid     = "O0013000000ACME"
  password = env("OFTP_IDENTITY_PASSWORD")
}

partner "acme" {
  ssid          = "O0013000000PARTNER"
  password_file = "secrets/does-not-exist"
}
