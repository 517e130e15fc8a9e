identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "legacy" {
  ssid     = "O0013000000LEGACY"
  password = "PW"
  version  = "1.4"

  security {
    level            = "signed"
    certificate_file = "legacy.pem"
  }
}

partner "modern" {
  ssid     = "O0013000000MODERN"
  password = "PW"

  security {
    level                 = "encrypted"
    cipher_suite          = 9
    secure_authentication = true
  }
}
