/* OpenSSL over a plain blocking socket inside weft tasks: each task makes a
 * socket, connect()s it, and runs SSL_connect, SSL_write and SSL_read on
 * it, against a TLS server in the test process (a thread per connection)
 * with a self-signed certificate that the test makes, which the client
 * verifies. The server waits before it answers "slow"; the reads park, so
 * all finish in about one wait. Before that, each connection does a
 * handshake and an immediate "ping". */
#include "hook_fixture.h"
#include "hook_util.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

static hook_tserver server;
static SSL_CTX *server_ctx, *client_ctx;

/* A P-256 key and a certificate for "localhost" signed by itself, valid
 * for an hour. */
static void make_identity(EVP_PKEY **key_out, X509 **cert_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    CHECK(key != NULL);
    X509 *cert = X509_new();
    CHECK(cert != NULL);
    CHECK(X509_set_version(cert, 2) == 1);
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1);
    CHECK(X509_gmtime_adj(X509_getm_notBefore(cert), -60) != NULL);
    CHECK(X509_gmtime_adj(X509_getm_notAfter(cert), 3600) != NULL);
    CHECK(X509_set_pubkey(cert, key) == 1);
    X509_NAME *name = X509_get_subject_name(cert);
    CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                     -1, -1, 0) == 1);
    CHECK(X509_set_issuer_name(cert, name) == 1);
    CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
    *key_out = key;
    *cert_out = cert;
}

static void make_contexts(void)
{
    EVP_PKEY *key;
    X509 *cert;
    make_identity(&key, &cert);
    server_ctx = SSL_CTX_new(TLS_server_method());
    CHECK(server_ctx != NULL);
    CHECK(SSL_CTX_use_certificate(server_ctx, cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey(server_ctx, key) == 1);
    client_ctx = SSL_CTX_new(TLS_client_method());
    CHECK(client_ctx != NULL);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), cert) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* Answers "ping" at once and "slow" after the hold, until the client
 * closes. */
static void serve_tls(int fd, void *ctx)
{
    (void)ctx;
    SSL *ssl = SSL_new(server_ctx);
    CHECK(ssl != NULL);
    CHECK(SSL_set_fd(ssl, fd) == 1);
    if (SSL_accept(ssl) == 1) {
        char buf[16];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
            int slow = n == 4 && memcmp(buf, "slow", 4) == 0;
            if (slow)
                hook_msleep(hook_hold_ms());
            const char *reply = slow ? "slow pong" : "pong";
            if (SSL_write(ssl, reply, (int)strlen(reply)) <= 0)
                break;
        }
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
}

typedef struct tls_conn {
    int fd;
    SSL *ssl;
} tls_conn;

/* Sends msg and reads the whole reply, which must be want. */
static int exchange(tls_conn *t, const char *msg, const char *want)
{
    if (SSL_write(t->ssl, msg, (int)strlen(msg)) != (int)strlen(msg)) {
        fprintf(stderr, "SSL_write: error %d\n", SSL_get_error(t->ssl, -1));
        return -1;
    }
    char buf[32];
    size_t len = 0, n = strlen(want);
    while (len < n) {
        int r = SSL_read(t->ssl, buf + len, (int)(sizeof buf - len));
        if (r <= 0) {
            fprintf(stderr, "SSL_read: error %d\n", SSL_get_error(t->ssl, r));
            return -1;
        }
        len += (size_t)r;
    }
    if (len != n || memcmp(buf, want, n) != 0) {
        fprintf(stderr, "reply to %s: \"%.*s\"\n", msg, (int)len, buf);
        return -1;
    }
    return 0;
}

static void free_conn(tls_conn *t)
{
    if (t->ssl) {
        SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    close(t->fd);
    free(t);
}

static void *open_conn(int index, void *ctx)
{
    (void)index;
    (void)ctx;
    tls_conn *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(t->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)server.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(t->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "connect: %s\n", strerror(errno));
        free_conn(t);
        return NULL;
    }
    t->ssl = SSL_new(client_ctx);
    CHECK(t->ssl != NULL);
    CHECK(SSL_set_fd(t->ssl, t->fd) == 1);
    CHECK(SSL_set1_host(t->ssl, "localhost") == 1);
    CHECK(SSL_set_tlsext_host_name(t->ssl, "localhost") == 1);
    if (SSL_connect(t->ssl) != 1) {
        fprintf(stderr, "SSL_connect: verify result %ld, ", SSL_get_verify_result(t->ssl));
        ERR_print_errors_fp(stderr);
        free_conn(t);
        return NULL;
    }
    if (exchange(t, "ping", "pong") != 0) {
        free_conn(t);
        return NULL;
    }
    return t;
}

static int held(void *state, void *ctx)
{
    (void)ctx;
    return exchange(state, "slow", "slow pong");
}

static void close_conn(void *state, void *ctx)
{
    (void)ctx;
    free_conn(state);
}

int main(int argc, char **argv)
{
    (void)argc;
    hook_test_init(argv);
    make_contexts();
    hook_tserver_start(&server, serve_tls, NULL);
    const hook_probe_ops ops = {open_conn, held, close_conn};
    hook_probe_run("OpenSSL SSL_read", &ops, NULL);
    hook_tserver_stop(&server);
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(server_ctx);
    return 0;
}
