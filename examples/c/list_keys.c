/*
 * list_keys: prints "sn<TAB>name<TAB>totp_key" for every device of an account.
 *
 *   HMX_PASSWORD=... ./list_keys EMAIL
 *
 * HMX_BASE_URL (default https://my.hmarex.com) and HMX_CA_FILE (a PEM to
 * trust instead of the public roots) are read when set. On failure it prints
 * the status name and message to stderr and exits with the status value.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hmx.h"

/* The whole file as a NUL-terminated string, or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)size + 1);
        if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) {
            free(text);
            text = NULL;
        }
        if (text != NULL) {
            text[size] = '\0';
        }
    }
    fclose(f);
    return text;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EMAIL  (password in HMX_PASSWORD)\n", argv[0]);
        return 2;
    }
    const char *password = getenv("HMX_PASSWORD");
    if (password == NULL) {
        fprintf(stderr, "set HMX_PASSWORD\n");
        return 2;
    }
    const char *base_url = getenv("HMX_BASE_URL");
    const char *ca_file = getenv("HMX_CA_FILE");
    char *ca_pem = NULL;
    if (ca_file != NULL && ca_file[0] != '\0' && (ca_pem = read_file(ca_file)) == NULL) {
        perror(ca_file);
        return 2;
    }

    char err[512];
    hmx_client *client = NULL;
    char *token = NULL;
    hmx_device_list *list = NULL;
    hmx_status status = hmx_client_new(base_url, 0, ca_pem, &client, err, sizeof err);
    if (status == HMX_STATUS_OK) {
        status = hmx_login(client, argv[1], password, &token, err, sizeof err);
    }
    if (status == HMX_STATUS_OK) {
        status = hmx_list_devices(client, token, &list, err, sizeof err);
    }
    if (status == HMX_STATUS_OK) {
        for (size_t i = 0; i < list->len; i++) {
            const hmx_device *d = &list->items[i];
            printf("%s\t%s\t%s\n", d->sn, d->name, d->totp_key != NULL ? d->totp_key : "-");
        }
    } else {
        fprintf(stderr, "%s: %s\n", hmx_status_name(status), err);
    }
    hmx_free(list);
    hmx_free(token); /* wipes the token */
    hmx_free(client);
    free(ca_pem);
    return (int)status;
}
