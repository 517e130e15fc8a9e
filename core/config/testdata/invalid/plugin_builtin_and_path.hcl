identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

plugin "archive" {
  builtin = "s3"
  path    = "./bin/s3-plugin"
  sha256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}

plugin "nothing" {
}
