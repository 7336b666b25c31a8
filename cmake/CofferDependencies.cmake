# Every third-party dependency, found once. All come from Debian 12 packages (README, "Dependencies").
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(GTest REQUIRED)

pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
# google/api/{annotations,http}.proto for the REST mapping (golang-github-gogo-googleapis-dev).
find_path(GOOGLEAPIS_PROTO_DIR google/api/annotations.proto
  PATHS /usr/share/gocode/src/github.com/gogo/googleapis REQUIRED NO_DEFAULT_PATH)
