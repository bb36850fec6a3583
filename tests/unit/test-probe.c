/* Unit tests of src/probe/probe-banner.c and src/probe/probe-records.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "probe/probe-banner.h"
#include "probe/probe-records.h"
#include "probe/probe-report.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes: ASan catches any read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* n copies of c after prefix and before suffix, in b. */
static const char *repeat(struct buf *b, const char *prefix, char c, size_t n, const char *suffix)
{
    buf_reset(b);
    assert_int_equal(buf_append_str(b, prefix), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_char(b, c), 0);
    assert_int_equal(buf_append_str(b, suffix), 0);
    return buf_cstr(b);
}

/* ---------------------------------------------------------------------- */
/* probe_banner_identify */

struct banner_case {
    const char *banner;
    const char *ehlo; /* NULL: none */
    const char *name;
    const char *version;
};

static void identify_check(const struct banner_case *c, size_t i)
{
    size_t bn = strlen(c->banner);
    char *banner = exact_copy(c->banner, bn);
    char *ehlo = c->ehlo ? exact_copy(c->ehlo, strlen(c->ehlo)) : NULL;
    struct probe_software sw;
    memset(&sw, 'x', sizeof(sw));
    probe_banner_identify(banner, bn, ehlo, c->ehlo ? strlen(c->ehlo) : 0, &sw);
    if (strcmp(sw.name, c->name) != 0 || strcmp(sw.version, c->version) != 0)
        fail_msg("case %zu \"%s\": got \"%s\" \"%s\", want \"%s\" \"%s\"", i, c->banner, sw.name,
                 sw.version, c->name, c->version);
    free(banner);
    free(ehlo);
}

static void test_identify_greetings(void **state)
{
    (void)state;
    static const struct banner_case cases[] = {
        /* Postfix: the default banner shows no version. */
        {"mx.example.com ESMTP Postfix", NULL, "Postfix", ""},
        {"mx.example.com ESMTP Postfix (Debian/GNU)", NULL, "Postfix", ""},
        {"mail.example.org ESMTP Postfix (Ubuntu)", NULL, "Postfix", ""},
        {"mx.example.com ESMTP Postfix 3.5.6", NULL, "Postfix", "3.5.6"},
        {"mx.example.com ESMTP Postfix (3.4.14)", NULL, "Postfix", "3.4.14"},
        {"mx.example.com esmtp POSTFIX", NULL, "Postfix", ""},
        /* Sendmail: MTA version / configuration version; date. */
        {"mail2.icomverse.com ESMTP Sendmail 8.9.2/8.9.2; Thu, 8 Mar 2001 10:53:10 +0200 (IST)",
         NULL, "Sendmail", "8.9.2"},
        {"old.example.com ESMTP Sendmail 8.11.6/8.11.6; Tue, 1 Jan 2002 12:00:00 +0100", NULL,
         "Sendmail", "8.11.6"},
        {"mx.example.org ESMTP Sendmail 8.15.2/8.15.2/Debian-22; Mon, 3 Jun 2024 10:00:00 +0200",
         NULL, "Sendmail", "8.15.2"},
        {"rhel.example.com ESMTP Sendmail 8.12.11.20060308/8.12.11; Wed, 1 Mar 2006 09:00:00", NULL,
         "Sendmail", "8.12.11.20060308"},
        {"sun.example.com ESMTP Sendmail 8.9.3+Sun/8.9.3; Fri, 5 Nov 1999 10:00:00 -0500", NULL,
         "Sendmail", "8.9.3"},
        {"gw.example.com ESMTP Sendmail Sentrion-MTA-4.2.2/Sentrion-MTA-4.2.2; Mon, 1 Jan 2018",
         NULL, "Sendmail", ""},
        {"mx.example.com Sendmail 8.18.1 ready", NULL, "Sendmail", "8.18.1"},
        /* Exim: "ESMTP Exim VERSION [#BUILD] DATE". */
        {"mx.example.com ESMTP Exim 4.92 #2 Tue, 01 Jan 2019 12:00:00 +0000", NULL, "Exim", "4.92"},
        {"server.example.com ESMTP Exim 4.96.2 #2 Mon, 03 Jun 2024 10:00:00 +0000 \n"
         "We do not authorize the use of this system to transport unsolicited, \n"
         "and/or bulk e-mail.",
         NULL, "Exim", "4.96.2"},
        {"mail.example.net ESMTP Exim 4.97.1 Ubuntu Tue, 04 Jun 2024 11:00:00 +0000", NULL, "Exim",
         "4.97.1"},
        {"mx.example.com ESMTP Exim 4.98.", NULL, "Exim", "4.98"},
        /* Microsoft: the Windows SMTP service shows its Windows build. */
        {"smtp01.northamerica.corp.microsoft.com Microsoft ESMTP MAIL Service, Version: "
         "5.0.2172.1 ready at Tue, 29 Feb 2000 18:55:48 -0600",
         NULL, "Microsoft SMTP Service", "5.0.2172.1"},
        {"napier Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at  Sun, 2 Dec 2009 "
         "21:56:01 +0000",
         NULL, "Microsoft SMTP Service", "6.0.3790.3959"},
        {"VICTIM Microsoft ESMTP MAIL Service, Version: 10.0.17763.1697 ready at  Wed, 4 Jan 2023 "
         "00:05:27 -0500",
         NULL, "Microsoft SMTP Service", "10.0.17763.1697"},
        {"mail.contoso.com Microsoft ESMTP MAIL Service, Version: 15.1.2507.6 ready at Mon, 1 Jan "
         "2024 10:00:00 +0100",
         NULL, "Microsoft Exchange", "15.1.2507.6"},
        {"cas.contoso.com Microsoft ESMTP MAIL Service, Version: 14.3.123.4 ready at Mon, 1 Jan "
         "2018 10:00:00 +0100",
         NULL, "Microsoft Exchange", "14.3.123.4"},
        /* Exchange 2007 and later show no version. */
        {"mail1.fabrikam.com Microsoft ESMTP MAIL Service ready at Fri, 5 Aug 2016 16:24:41 -0700",
         NULL, "Microsoft Exchange", ""},
        {"SERVER-HOSTNAME.DOMAIN.TEST Microsoft ESMTP MAIL Service ready at Wed, 11 Jan 2023 "
         "16:59:51 +0100",
         NULL, "Microsoft Exchange", ""},
        {"mx Microsoft ESMTP MAIL Service, Version: ready", NULL, "Microsoft Exchange", ""},
        /* Office 365. */
        {"BL2NAM06FT004.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Thu, 26 "
         "Sep 2019 10:51:20 +0000",
         NULL, "Microsoft Exchange Online", ""},
        {"SJ5PEPF000001F2.mail.protection.outlook.com\nMicrosoft ESMTP MAIL Service ready at Wed, "
         "25 Mar 2026 02:15:27 +0000",
         NULL, "Microsoft Exchange Online", ""},
        /* Exchange 5.5. */
        {"newexch.cti2.com ESMTP Server (Microsoft Exchange Internet Mail Service 5.5.2448.0) "
         "ready",
         NULL, "Microsoft Exchange", "5.5.2448.0"},
        /* OpenSMTPD never shows its version. */
        {"mx.example.org ESMTP OpenSMTPD", NULL, "OpenSMTPD", ""},
        {"smtp.realcorp.htb ESMTP OpenSMTPD", NULL, "OpenSMTPD", ""},
        /* Haraka. */
        {"Thiharas-MacBook-Pro.local ESMTP Haraka 2.8.8 ready", NULL, "Haraka", "2.8.8"},
        {"SendCloud Inbound Server ESMTP Haraka 2.2.4 ready", NULL, "Haraka", "2.2.4"},
        {"mail.sebarray.tech ESMTP Haraka ready (9E91E8)", NULL, "Haraka", ""},
        {"mail ESMTP Haraka 3.0.2 ready", NULL, "Haraka", "3.0.2"},
        /* qmail and its successors. */
        {"mail.example.com ESMTP qmail", NULL, "qmail", ""},
        {"mail.example.com ESMTP netqmail 1.06", NULL, "qmail", "1.06"},
        {"mail.example.com ESMTP notqmail", NULL, "qmail", ""},
        /* Domino, from Lotus to IBM to HCL. */
        {"ctilotus.cti2.com ESMTP Service (Lotus Domino Release 5.0.4) ready at Wed, 28 Feb 2001 "
         "12:02:37 +0200",
         NULL, "Domino", "5.0.4"},
        {"idefix.example.de ESMTP Service (IBM Domino Release 9.0.1FP10) ready at Tue, 9 Jul 2019 "
         "09:19:29 +0200",
         NULL, "Domino", "9.0.1FP10"},
        {"mx.example.com ESMTP Service (HCL Domino Release 12.0.2) ready at Mon, 3 Jun 2024 "
         "10:00:00 +0200",
         NULL, "Domino", "12.0.2"},
        /* MDaemon, both orders. */
        {"altn.com ESMTP MDaemon 6.8.5; Mon, 15 Sep 2003 12:46:42 -0500", NULL, "MDaemon", "6.8.5"},
        {"bdwater.com ESMTP MDaemon 7.1.2; Tue, 10 Aug 2004 16:59:55 +0800", NULL, "MDaemon",
         "7.1.2"},
        {"mx.example.com MDaemon 21.0.1 ESMTP ready", NULL, "MDaemon", "21.0.1"},
        /* Kerio, under both its names. */
        {"mail.example.com Kerio Connect 9.2.12 ESMTP ready", NULL, "Kerio Connect", "9.2.12"},
        {"mail.kerio.com Kerio MailServer 5.6.7 ESMTP ready", NULL, "Kerio Connect", "5.6.7"},
        {"mail.example.com Kerio  Connect 10.0.4 ESMTP ready", NULL, "Kerio Connect", "10.0.4"},
        /* Zimbra: the build after '_' is not part of the version. */
        {"mx ESMTP Zimbra 8.8.15_GA_3869 ready", NULL, "Zimbra", "8.8.15"},
        {"mailstore.zcs.example ESMTP Zimbra ready", NULL, "Zimbra", ""},
        /* postino. */
        {"mx.example.net ESMTP postino", NULL, "postino", ""},
        /* The earliest name wins. */
        {"mx ESMTP Exim 4.94 (a Postfix lookalike)", NULL, "Exim", "4.94"},
        /* Names that are only part of a word are not names. */
        {"postfix.example.com ESMTP", NULL, "", ""},
        {"mx-exim.example.com ESMTP ready", NULL, "", ""},
        {"mx.example.com ESMTP Postfix-like", NULL, "", ""},
        {"mx.example.com ESMTP Eximious", NULL, "", ""},
        {"mx.example.com ESMTP Exim.example", NULL, "", ""},
        {"mx.example.com ESMTP Exim--", NULL, "", ""},
        /* ... but a sentence may end after one. */
        {"mx.example.com runs Postfix.", NULL, "Postfix", ""},
        {"mx.example.com ESMTP Exim- 4.92", NULL, "Exim", ""},
        /* Nothing known. */
        {"smtp.example.com ESMTP", NULL, "", ""},
        {"mx.example.com ESMTP Ready and Serving.", NULL, "", ""},
        {"", NULL, "", ""},
        /* A version too long to be one. */
        {"mx ESMTP Exim 123456789012345678901234567890123", NULL, "Exim", ""},
        {"mx ESMTP Exim 12345678901234567890123456789012", NULL, "Exim",
         "12345678901234567890123456789012"},
        /* A version is on the name's line. */
        {"mx ESMTP Exim\n4.92", NULL, "Exim", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        identify_check(&cases[i], i);
}

static void test_identify_ehlo(void **state)
{
    (void)state;
    static const struct banner_case cases[] = {
        /* Exchange's own keywords, in an EHLO reply after a greeting
         * that was changed to hide it. */
        {"mail.example.com ESMTP",
         "mail1.fabrikam.com Hello [172.16.0.5]\nSIZE 37748736\nPIPELINING\nDSN\n"
         "ENHANCEDSTATUSCODES\nSTARTTLS\nX-ANONYMOUSTLS\nAUTH NTLM\nX-EXPS GSSAPI NTLM\n"
         "8BITMIME\nBINARYMIME\nCHUNKING\nXRDST",
         "Microsoft Exchange", ""},
        {"mail.example.com ESMTP",
         "exch2003.example.com Hello [192.0.2.1]\nTURN\nSIZE\nETRN\nPIPELINING\nDSN\n"
         "ENHANCEDSTATUSCODES\n8bitmime\nBINARYMIME\nCHUNKING\nVRFY\nX-EXPS GSSAPI NTLM LOGIN\n"
         "X-EXPS=LOGIN\nAUTH GSSAPI NTLM LOGIN\nAUTH=LOGIN\nX-LINK2STATE\nXEXCH50\nOK",
         "Microsoft Exchange", ""},
        {"mail.example.com ESMTP",
         "AM7EUR03FT012.mail.protection.outlook.com Hello [192.0.2.1]\nSIZE 157286400\n"
         "PIPELINING\nDSN\nENHANCEDSTATUSCODES\nSTARTTLS\n8BITMIME\nBINARYMIME\nCHUNKING\nSMTPUTF8",
         "", ""},
        {"mail.example.com ESMTP",
         "AM7EUR03FT012.mail.protection.outlook.com Hello [192.0.2.1]\nSIZE 157286400\n"
         "PIPELINING\nDSN\nENHANCEDSTATUSCODES\nSTARTTLS\n8BITMIME\nBINARYMIME\nCHUNKING\n"
         "SMTPUTF8\nXRDST",
         "Microsoft Exchange Online", ""},
        /* Sendmail. */
        {"mx.example.com ESMTP",
         "mx.example.com Hello client.example.org [192.0.2.1], pleased to meet you\n"
         "ENHANCEDSTATUSCODES\nPIPELINING\n8BITMIME\nSIZE\nDSN\nETRN\nDELIVERBY\nHELP",
         "Sendmail", ""},
        {"mx.example.com ESMTP",
         "mx.example.com Hello x [192.0.2.1], pleased to meet you\nVERB\nHELP", "Sendmail", ""},
        /* OpenSMTPD's reply gives nothing away ("pleased to meet you" is
         * Sendmail's phrase too). */
        {"mx ESMTP",
         "cun.bsdsx.fr Hello localhost [::1], pleased to meet you\n8BITMIME\nENHANCEDSTATUSCODES\n"
         "SIZE 36700160\nDSN\nHELP",
         "", ""},
        /* Exim. */
        {"mx ESMTP", "mx Hello client [192.0.2.1]\nSIZE 52428800\nX_PIPE_CONNECT\nHELP", "Exim",
         ""},
        /* Haraka. */
        {"SendCloud Inbound Server ESMTP ready",
         "SendCloud Inbound Server Hello, Haraka is at your service.\nPIPELINING\n8BITMIME",
         "Haraka", ""},
        /* A keyword in the first line is not a capability. */
        {"mx ESMTP", "VERB.example.com Hello", "", ""},
        /* Only whole keywords count. */
        {"mx ESMTP", "mx Hello\nVERBOSE\nXRDSTX", "", ""},
        /* The greeting decides when it names something. */
        {"mx.example.com ESMTP Postfix", "mx.example.com\nDELIVERBY\nVERB", "Postfix", ""},
        {"mx.example.com ESMTP Exim 4.92", "mx Hello\nXEXCH50", "Exim", "4.92"},
        /* CRLF left in the reply. */
        {"mx ESMTP", "mx Hello\r\nDELIVERBY\r\nHELP\r\n", "Sendmail", ""},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        identify_check(&cases[i], i);
}

static void test_identify_limits(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    struct probe_software sw;
    /* A name that ends at the last byte looked at is found; one after it
     * is not. */
    const char *s = repeat(&b, "", ' ', PROBE_BANNER_SCAN_MAX - 4, "Exim 4.92");
    probe_banner_identify(s, strlen(s), NULL, 0, &sw);
    assert_string_equal(sw.name, "Exim");
    assert_string_equal(sw.version, "");
    s = repeat(&b, "", ' ', PROBE_BANNER_SCAN_MAX - 3, "Exim 4.92");
    probe_banner_identify(s, strlen(s), NULL, 0, &sw);
    assert_string_equal(sw.name, "");
    /* The same for the EHLO reply. */
    s = repeat(&b, "mx Hello\n", 'x', PROBE_BANNER_SCAN_MAX - 19, "\nDELIVERBY");
    probe_banner_identify("mx", 2, s, strlen(s), &sw);
    assert_string_equal(sw.name, "Sendmail");
    s = repeat(&b, "mx Hello\n", 'x', PROBE_BANNER_SCAN_MAX - 18, "\nDELIVERBY");
    probe_banner_identify("mx", 2, s, strlen(s), &sw);
    assert_string_equal(sw.name, "");
    /* NULL texts are empty. */
    probe_banner_identify(NULL, 0, NULL, 0, &sw);
    assert_string_equal(sw.name, "");
    /* NUL bytes are word boundaries like any other. */
    static const char nul[] = "mx\0Exim\0004.9";
    probe_banner_identify(nul, sizeof(nul) - 1, NULL, 0, &sw);
    assert_string_equal(sw.name, "Exim");
    assert_string_equal(sw.version, "");
    buf_free(&b);
}

/* ---------------------------------------------------------------------- */
/* probe_version_compare */

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_version_compare(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"8.9", "8.15", -1},
        {"8.14.9", "8.15", -1},
        {"8.15", "8.15", 0},
        {"8.15.2", "8.15", 1},
        {"3.4", "3.4.0", 0},
        {"3.4.0.0", "3.4", 0},
        {"4.96", "4.96.1", -1},
        {"4.96.2", "4.97", -1},
        {"4.97.1", "4.97", 1},
        {"10.0", "9.99", 1},
        {"8.14.4a", "8.14.4", 1},
        {"8.14.4a", "8.14.4b", -1},
        {"8.14.4a", "8.14.5", -1},
        {"8.14.4A", "8.14.4a", 0},
        {"9.0.1FP10", "9.0.1FP9", 1},
        {"9.0.1FP10", "9.0.1", 1},
        {"9.0.1FP10", "9.0.2", -1},
        {"9.0.1FP010", "9.0.1FP10", 0},
        {"12.0.2", "12.0", 1},
        {"007", "7", 0},
        {"1.02", "1.2", 0},
        {"1.0", "1", 0},
        {"0", "", 0},
        {"0.0.0", "", 0},
        {"", "0.0.1", -1},
        {"15.1.2507.6", "15.2.2562", -1},
        {"15.2.1748.10", "15.2.2562", -1},
        {"15.2.2562.17", "15.2.2562", 1},
        {"14.3.123.4", "15.0", -1},
        {"6.0.3790.3959", "10.0", -1},
        {"10.0.17763.1697", "10.0", 1},
        {"8.12.11.20060308", "8.15", -1},
        /* numbers longer than any integer type */
        {"99999999999999999999999", "99999999999999999999998", 1},
        {"100000000000000000000000", "99999999999999999999999", 1},
        {"0000000000000000000000001", "1", 0},
        /* a suffix sorts after its number (a release candidate too) */
        {"2.8.0rc1", "2.8.0", 1},
        {"1.a", "1.b", -1},
        {"1.a1", "1.a", 1},
        {"1.a2", "1.a10", -1},
        {"1.a2b", "1.a2a", 1},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int got = sign(probe_version_compare(cases[i].a, cases[i].b));
        int back = sign(probe_version_compare(cases[i].b, cases[i].a));
        if (got != cases[i].want || back != -cases[i].want)
            fail_msg("case %zu: \"%s\" vs \"%s\": %d and back %d, want %d", i, cases[i].a,
                     cases[i].b, got, back, cases[i].want);
    }
}

/* ---------------------------------------------------------------------- */
/* probe_software_table_parse */

/* Parse text as a table; its error, or NULL when it parsed. */
static char *table_error(const char *text, size_t len, struct probe_software_table *t)
{
    char *in = exact_copy(text, len);
    char *error = NULL;
    int ret = probe_software_table_parse(in, len, t, &error);
    free(in);
    if (ret == 0) {
        assert_null(error);
        return NULL;
    }
    assert_int_equal(ret, -1);
    assert_non_null(error);
    /* A failed parse leaves an empty table. */
    assert_int_equal(t->n, 0);
    assert_string_equal(t->dated, "");
    return error;
}

static void test_table_parse(void **state)
{
    (void)state;
    static const char text[] = "# a comment\r\n"
                               "\n"
                               "   # an indented comment\n"
                               "dated 2026-11-01\r\n"
                               "Sendmail | 8.15 | too old\n"
                               "\tExim|4.97|also too old  \n"
                               "Microsoft Exchange | 15.2.2562 | before SE | or not\n";
    struct probe_software_table *t = malloc(sizeof(*t));
    assert_non_null(t);
    char *err = table_error(text, strlen(text), t);
    assert_non_null(err);
    assert_string_equal(err, "line 7: a '|' in the note");
    free(err);

    /* Without the last line; no newline at the end. */
    size_t len = strlen(text) - strlen("Microsoft Exchange | 15.2.2562 | before SE | or not\n");
    assert_null(table_error(text, len - 1, t));
    assert_string_equal(t->dated, "2026-11-01");
    assert_int_equal(t->n, 2);
    assert_string_equal(t->rule[0].name, "Sendmail");
    assert_string_equal(t->rule[0].before, "8.15");
    assert_string_equal(t->rule[0].note, "too old");
    assert_string_equal(t->rule[1].name, "Exim");
    assert_string_equal(t->rule[1].before, "4.97");
    assert_string_equal(t->rule[1].note, "also too old");

    /* error_r may be NULL. */
    assert_int_equal(probe_software_table_parse("x", 1, t, NULL), -1);
    free(t);
}

static void test_table_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        {"", "line 0: no \"dated YYYY-MM-DD\" line"},
        {"Postfix | 3.4 | old\n", "line 0: no \"dated YYYY-MM-DD\" line"},
        {"dated 2026-11-01\ndated 2026-11-02\n", "line 2: a second \"dated\" line"},
        {"dated 2026-13-01", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 2026-00-01", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 2026-11-32", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 26-11-01", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 2026/11/01", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 2026-11-01 today", "line 1: \"dated\" wants a date as YYYY-MM-DD"},
        {"dated 2026-11-01\n# c\n\nPostfix 3.4 old\n",
         "line 4: expected NAME | OBSOLETE-BEFORE | NOTE"},
        {"dated 2026-11-01\nPostfix | 3.4\n", "line 2: expected NAME | OBSOLETE-BEFORE | NOTE"},
        {"dated 2026-11-01\n | 3.4 | old\n", "line 2: the software's name is empty"},
        {"dated 2026-11-01\nPostfix | three | old\n",
         "line 2: \"three\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix | 3..4 | old\n",
         "line 2: \"3..4\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix | 3.4. | old\n",
         "line 2: \"3.4.\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix | .3 | old\n",
         "line 2: \".3\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix | 3.4-1 | old\n",
         "line 2: \"3.4-1\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix |  | old\n",
         "line 2: \"\" is not a version (a digit, then digits, letters, dots)"},
        {"dated 2026-11-01\nPostfix | 3.4 |   \n",
         "line 2: the note is empty: say why it is obsolete"},
        {"dated 2026-11-01\nPostfix | 3.4 | a | b\n", "line 2: a '|' in the note"},
        {"dated 2026-11-01\nPostfix|3.4|x\n\npostfix | 3.5 | y\n",
         "line 4: a second rule for \"Postfix\""},
        {"dated 2026-11-01\nPostfix | 3.4 | old\x01\n", "line 2: a control byte (0x01)"},
        {"dated 2026-11-01\x7f", "line 1: a control byte (0x7f)"},
        {"dated 2026-11-01\nPostfix | 3.4 | old \xff\n", "line 2: not UTF-8"},
        {"Dated 2026-11-01\n", "line 1: expected NAME | OBSOLETE-BEFORE | NOTE"},
    };
    struct probe_software_table *t = malloc(sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char *err = table_error(cases[i].text, strlen(cases[i].text), t);
        if (err == NULL || strcmp(err, cases[i].error) != 0)
            fail_msg("case %zu: error \"%s\", want \"%s\"", i, err ? err : "(none)",
                     cases[i].error);
        free(err);
    }
    /* A NUL byte in a line. */
    static const char nul[] = "dated 2026-11-01\nA | 1 | x\0y\n";
    char *err = table_error(nul, sizeof(nul) - 1, t);
    assert_non_null(err);
    assert_string_equal(err, "line 2: a control byte (0x00)");
    free(err);
    /* UTF-8 in a note is fine. */
    static const char utf8[] = "dated 2026-11-01\nA | 1 | \xc3\xa9t\xc3\xa9\n";
    assert_null(table_error(utf8, sizeof(utf8) - 1, t));
    assert_string_equal(t->rule[0].note, "\xc3\xa9t\xc3\xa9");
    free(t);
}

/* Each limit of the table, reached and crossed by one. */
static void test_table_limits(void **state)
{
    (void)state;
    struct probe_software_table *t = malloc(sizeof(*t));
    assert_non_null(t);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char *err;

    const char *s = repeat(&b, "dated 2026-11-01\n", 'N', PROBE_SOFTWARE_NAME_MAX, " | 1 | x\n");
    assert_null(table_error(s, strlen(s), t));
    assert_int_equal(strlen(t->rule[0].name), PROBE_SOFTWARE_NAME_MAX);
    s = repeat(&b, "dated 2026-11-01\n", 'N', PROBE_SOFTWARE_NAME_MAX + 1, " | 1 | x\n");
    err = table_error(s, strlen(s), t);
    assert_string_equal(err, "line 2: the software's name is longer than 48 bytes");
    free(err);

    s = repeat(&b, "dated 2026-11-01\nA | 1", '1', PROBE_VERSION_MAX - 1, " | x\n");
    assert_null(table_error(s, strlen(s), t));
    assert_int_equal(strlen(t->rule[0].before), PROBE_VERSION_MAX);
    s = repeat(&b, "dated 2026-11-01\nA | 1", '1', PROBE_VERSION_MAX, " | x\n");
    err = table_error(s, strlen(s), t);
    assert_string_equal(err, "line 2: the version is longer than 32 bytes");
    free(err);

    s = repeat(&b, "dated 2026-11-01\nA | 1 | ", 'x', PROBE_NOTE_MAX, "\n");
    assert_null(table_error(s, strlen(s), t));
    assert_int_equal(strlen(t->rule[0].note), PROBE_NOTE_MAX);
    s = repeat(&b, "dated 2026-11-01\nA | 1 | ", 'x', PROBE_NOTE_MAX + 1, "\n");
    err = table_error(s, strlen(s), t);
    assert_string_equal(err, "line 2: the note is longer than 160 bytes");
    free(err);

    /* A line of PROBE_TABLE_LINE_MAX bytes (blanks at its end), and one
     * more. */
    s = repeat(&b, "dated 2026-11-01\nA | 1 | x", ' ', PROBE_TABLE_LINE_MAX - 9, "\r\n");
    assert_null(table_error(s, strlen(s), t));
    s = repeat(&b, "dated 2026-11-01\nA | 1 | x", ' ', PROBE_TABLE_LINE_MAX - 8, "\n");
    err = table_error(s, strlen(s), t);
    assert_string_equal(err, "line 2: longer than 512 bytes");
    free(err);

    /* PROBE_TABLE_RULES_MAX rules, and one more. */
    buf_reset(&b);
    buf_append_str(&b, "dated 2026-11-01\n");
    for (int i = 0; i < PROBE_TABLE_RULES_MAX; i++)
        assert_int_equal(buf_printf(&b, "S%d | 1.%d | note %d\n", i, i, i), 0);
    assert_null(table_error(buf_cstr(&b), b.len, t));
    assert_int_equal(t->n, PROBE_TABLE_RULES_MAX);
    assert_string_equal(t->rule[PROBE_TABLE_RULES_MAX - 1].name, "S63");
    assert_int_equal(buf_append_str(&b, "S64 | 1 | x\n"), 0);
    err = table_error(buf_cstr(&b), b.len, t);
    assert_string_equal(err, "line 66: more than 64 rules");
    free(err);

    /* PROBE_TABLE_TEXT_MAX bytes of comment, and one more. */
    s = repeat(&b, "dated 2026-11-01\n", '#', PROBE_TABLE_TEXT_MAX - 17, "");
    err = table_error(s, strlen(s), t);
    assert_string_equal(err, "line 2: longer than 512 bytes");
    free(err);
    buf_reset(&b);
    buf_append_str(&b, "dated 2026-11-01\n");
    while (b.len + 100 <= PROBE_TABLE_TEXT_MAX) {
        assert_int_equal(buf_append_char(&b, '#'), 0);
        for (int k = 0; k < 98; k++)
            assert_int_equal(buf_append_char(&b, '.'), 0);
        assert_int_equal(buf_append_char(&b, '\n'), 0);
    }
    while (b.len < PROBE_TABLE_TEXT_MAX)
        buf_append_char(&b, '\n');
    assert_int_equal(b.len, PROBE_TABLE_TEXT_MAX);
    assert_null(table_error(buf_cstr(&b), b.len, t));
    buf_append_char(&b, '\n');
    err = table_error(buf_cstr(&b), b.len, t);
    assert_string_equal(err, "line 0: the table is larger than 65536 bytes");
    free(err);

    buf_free(&b);
    free(t);
}

/* ---------------------------------------------------------------------- */
/* probe_software_age, with the table postino ships */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (the tests run in the source tree)", path);
    struct buf b;
    buf_init(&b, PROBE_TABLE_TEXT_MAX + 1);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

static void test_age_shipped_table(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file("data/smtp-software.txt", &len);
    struct probe_software_table *t = malloc(sizeof(*t));
    assert_non_null(t);
    char *err = NULL;
    if (probe_software_table_parse(text, len, t, &err) != 0)
        fail_msg("data/smtp-software.txt: %s", err);
    free(text);
    assert_string_equal(t->dated, "2026-11-01");

    static const struct {
        const char *banner;
        enum probe_age age;
        const char *rule; /* NULL: none */
    } cases[] = {
        {"old.example.com ESMTP Sendmail 8.11.6/8.11.6; Tue, 1 Jan 2002", PROBE_AGE_OBSOLETE,
         "Sendmail"},
        {"mx ESMTP Sendmail 8.14.9/8.14.9; Mon, 1 Jan 2018", PROBE_AGE_OBSOLETE, "Sendmail"},
        {"mx ESMTP Sendmail 8.15.2/8.15.2/Debian-22; Mon", PROBE_AGE_CURRENT, "Sendmail"},
        {"mx ESMTP Sendmail 8.18.1/8.18.1; Mon", PROBE_AGE_CURRENT, "Sendmail"},
        {"mx ESMTP Exim 4.92 #2 Tue, 01 Jan 2019", PROBE_AGE_OBSOLETE, "Exim"},
        {"mx ESMTP Exim 4.96.2 #2 Mon", PROBE_AGE_OBSOLETE, "Exim"},
        {"mx ESMTP Exim 4.97 Mon", PROBE_AGE_CURRENT, "Exim"},
        {"mx ESMTP Exim 4.98.2 Mon", PROBE_AGE_CURRENT, "Exim"},
        {"mx ESMTP Postfix (Debian/GNU)", PROBE_AGE_UNKNOWN, "Postfix"},
        {"mx ESMTP Postfix 2.11.3", PROBE_AGE_OBSOLETE, "Postfix"},
        {"mx ESMTP Postfix 3.3.22", PROBE_AGE_OBSOLETE, "Postfix"},
        {"mx ESMTP Postfix 3.4.0", PROBE_AGE_CURRENT, "Postfix"},
        {"mx ESMTP Postfix 3.10.1", PROBE_AGE_CURRENT, "Postfix"},
        {"mx Microsoft ESMTP MAIL Service ready at Mon", PROBE_AGE_UNKNOWN, "Microsoft Exchange"},
        {"mx Microsoft ESMTP MAIL Service, Version: 14.3.123.4 ready at", PROBE_AGE_OBSOLETE,
         "Microsoft Exchange"},
        {"mx Microsoft ESMTP MAIL Service, Version: 15.1.2507.6 ready at", PROBE_AGE_OBSOLETE,
         "Microsoft Exchange"},
        {"mx Microsoft ESMTP MAIL Service, Version: 15.2.2562.17 ready at", PROBE_AGE_CURRENT,
         "Microsoft Exchange"},
        {"mx ESMTP Server (Microsoft Exchange Internet Mail Service 5.5.2448.0) ready",
         PROBE_AGE_OBSOLETE, "Microsoft Exchange"},
        {"mx Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at", PROBE_AGE_OBSOLETE,
         "Microsoft SMTP Service"},
        {"mx Microsoft ESMTP MAIL Service, Version: 10.0.17763.1697 ready at", PROBE_AGE_CURRENT,
         "Microsoft SMTP Service"},
        {"x.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at", PROBE_AGE_UNKNOWN,
         NULL},
        {"mx ESMTP OpenSMTPD", PROBE_AGE_UNKNOWN, "OpenSMTPD"},
        {"mx ESMTP Haraka 2.8.8 ready", PROBE_AGE_OBSOLETE, "Haraka"},
        {"mx ESMTP Haraka 3.0.2 ready", PROBE_AGE_CURRENT, "Haraka"},
        {"mx ESMTP Service (Lotus Domino Release 5.0.4) ready at", PROBE_AGE_OBSOLETE, "Domino"},
        {"mx ESMTP Service (IBM Domino Release 9.0.1FP10) ready at", PROBE_AGE_OBSOLETE, "Domino"},
        {"mx ESMTP Service (HCL Domino Release 12.0.2) ready at", PROBE_AGE_CURRENT, "Domino"},
        {"mx Kerio Connect 9.2.12 ESMTP ready", PROBE_AGE_OBSOLETE, "Kerio Connect"},
        {"mx Kerio MailServer 5.6.7 ESMTP ready", PROBE_AGE_OBSOLETE, "Kerio Connect"},
        {"mx Kerio Connect 10.0.4 ESMTP ready", PROBE_AGE_CURRENT, "Kerio Connect"},
        {"mx ESMTP MDaemon 6.8.5; Mon", PROBE_AGE_OBSOLETE, "MDaemon"},
        {"mx MDaemon 21.0.1 ESMTP ready", PROBE_AGE_OBSOLETE, "MDaemon"},
        {"mx MDaemon 25.0.1 ESMTP ready", PROBE_AGE_CURRENT, "MDaemon"},
        {"mx ESMTP qmail", PROBE_AGE_UNKNOWN, NULL},
        {"mx ESMTP netqmail 1.06", PROBE_AGE_UNKNOWN, NULL},
        {"mx ESMTP postino", PROBE_AGE_UNKNOWN, NULL},
        {"mx ESMTP", PROBE_AGE_UNKNOWN, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct probe_software sw;
        probe_banner_identify(cases[i].banner, strlen(cases[i].banner), NULL, 0, &sw);
        static const struct probe_software_rule dummy;
        const struct probe_software_rule *rule = &dummy;
        enum probe_age age = probe_software_age(t, &sw, &rule);
        if (age != cases[i].age || (rule == NULL) != (cases[i].rule == NULL) ||
            (rule != NULL && strcmp(rule->name, cases[i].rule) != 0))
            fail_msg("case %zu \"%s\": age %d rule %s, want %d %s", i, cases[i].banner, age,
                     rule ? rule->name : "(none)", cases[i].age,
                     cases[i].rule ? cases[i].rule : "(none)");
        /* rule_r may be NULL. */
        assert_int_equal(probe_software_age(t, &sw, NULL), age);
    }
    /* Every note says something. */
    for (size_t i = 0; i < t->n; i++)
        assert_true(strlen(t->rule[i].note) > 20);
    free(t);
}

static void test_age_rules(void **state)
{
    (void)state;
    static const char text[] = "dated 2026-11-01\nexim | 4.97 | old\n";
    struct probe_software_table t;
    assert_int_equal(probe_software_table_parse(text, strlen(text), &t, NULL), 0);
    struct probe_software sw = {"EXIM", "4.96"};
    const struct probe_software_rule *rule = NULL;
    /* Names compare ignoring case. */
    assert_int_equal(probe_software_age(&t, &sw, &rule), PROBE_AGE_OBSOLETE);
    assert_ptr_equal(rule, &t.rule[0]);
    struct probe_software same = {"Exim", "4.97"};
    assert_int_equal(probe_software_age(&t, &same, &rule), PROBE_AGE_CURRENT);
    assert_ptr_equal(rule, &t.rule[0]);
    /* A version that is not one is unknown. */
    struct probe_software odd = {"Exim", "x4"};
    assert_int_equal(probe_software_age(&t, &odd, &rule), PROBE_AGE_UNKNOWN);
    assert_ptr_equal(rule, &t.rule[0]);
    struct probe_software none = {"", "1.0"};
    assert_int_equal(probe_software_age(&t, &none, &rule), PROBE_AGE_UNKNOWN);
    assert_null(rule);
    /* An empty table knows nothing. */
    struct probe_software_table empty;
    memset(&empty, 0, sizeof(empty));
    assert_int_equal(probe_software_age(&empty, &sw, &rule), PROBE_AGE_UNKNOWN);
    assert_null(rule);
}

/* ---------------------------------------------------------------------- */
/* MTA-STS and TLS-RPT records */

struct sts_case {
    const char *txt;
    const char *id;  /* NULL: invalid */
    const char *why; /* a part of the why when invalid */
};

static void sts_check(const char *txt, size_t n, const char *id, const char *why, size_t i)
{
    char *in = exact_copy(txt, n);
    struct probe_mta_sts r;
    memset(&r, 'x', sizeof(r));
    probe_mta_sts_parse(in, n, &r);
    if (id != NULL) {
        if (!r.valid || strcmp(r.id, id) != 0)
            fail_msg("case %zu \"%s\": not valid (%s) or id \"%s\"", i, txt, r.why, r.id);
        assert_string_equal(r.why, "");
    } else {
        if (r.valid || strstr(r.why, why) == NULL)
            fail_msg("case %zu \"%s\": valid %d why \"%s\", want \"%s\"", i, txt, r.valid, r.why,
                     why);
        assert_string_equal(r.id, "");
    }
    /* A valid record always claims to be one. */
    if (r.valid)
        assert_true(probe_mta_sts_is(in, n));
    free(in);
}

static void test_mta_sts(void **state)
{
    (void)state;
    static const struct sts_case cases[] = {
        /* RFC 8461's own example. */
        {"v=STSv1; id=20160831085700Z;", "20160831085700Z", NULL},
        {"v=STSv1;id=abc", "abc", NULL},
        {"v=STSv1; id=abc ;", "abc", NULL},
        {"v=STSv1;\tid=abc;\t", "abc", NULL},
        {"v=STSv1; id=abc   ", "abc", NULL},
        {"v=STSv1 ; id=abc", "abc", NULL},
        {"v=STSv1; ext=foo; id=abc", "abc", NULL},
        {"v=STSv1; id=12345678901234567890123456789012", "12345678901234567890123456789012", NULL},
        {"v=STSv1; id=abc; x_y.z-1=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~", "abc", NULL},
        {"v=STSv1; id=A; 9=9", "A", NULL},
        /* Not one at all. */
        {"", NULL, "does not begin with v=STSv1"},
        {"v=spf1 -all", NULL, "does not begin with v=STSv1 (begins \"v=spf1 -all\")"},
        {"v=STSv10; id=abc", NULL, "does not begin with v=STSv1"},
        {"id=abc; v=STSv1", NULL, "does not begin with v=STSv1"},
        {" v=STSv1; id=abc", NULL, "white space before v=STSv1"},
        {"V=STSv1; id=abc", NULL, "v=STSv1 is case-sensitive, not \"V=STSv1\""},
        {"v=stsv1; id=abc", NULL, "case-sensitive"},
        {"v = STSv1; id=abc", NULL, "no white space is allowed around '=' in v=STSv1"},
        {"v= STSv1; id=abc", NULL, "no white space is allowed around '='"},
        /* No id. */
        {"v=STSv1", NULL, "no id= field: it is required"},
        {"v=STSv1;", NULL, "no id= field"},
        {"v=STSv1; ext=1", NULL, "no id= field"},
        {"v=STSv1; ID=abc", NULL, "case-sensitive: \"ID=\" is not id="},
        /* Bad ids. */
        {"v=STSv1; id=abc-def", NULL, "the id has '-'"},
        {"v=STSv1; id=2024.01", NULL, "the id has '.'"},
        {"v=STSv1; id=123456789012345678901234567890123", NULL,
         "the id is 33 characters long, more than 32"},
        {"v=STSv1; id=", NULL, "the field \"id\" has an empty value"},
        {"v=STSv1; id= abc", NULL, "white space after '=' in the field \"id\""},
        {"v=STSv1; id =abc", NULL, "white space before '=' in the field \"id\""},
        {"v=STSv1; id=a=b", NULL, "a '=' in the value of \"id\""},
        /* Syntax. */
        {"v=STSv1 id=abc", NULL, "\"id=abc\" after v=STSv1: fields are separated by ';'"},
        {"v=STSv1; id=abc def", NULL, "\"def\" after the field \"id\""},
        {"v=STSv1; id=abc;; ext=1", NULL, "an empty field"},
        {"v=STSv1; ; id=abc", NULL, "an empty field"},
        {"v=STSv1; id=abc; noequals", NULL, "the field \"noequals\" is not name=value"},
        {"v=STSv1; id=abc; _x=1", NULL, "\"_x\" is not a field name"},
        {"v=STSv1; id=abc; 123456789012345678901234567890123=1", NULL, "is not a field name"},
        {"v=STSv1; id=abc; 12345678901234567890123456789012=1", "abc", NULL},
        {"v=STSv1; id=abc; e=x\x01", NULL, "byte 0x01 at offset 20"},
        {"v=STSv1; id=abc; e=\xc3\xa9", NULL, "byte 0xc3 at offset 19"},
        /* Duplicates. */
        {"v=STSv1; id=abc; id=def", NULL, "the field \"id\" appears twice"},
        {"v=STSv1; id=abc; ext=1; ext=2", NULL, "the field \"ext\" appears twice"},
        {"v=STSv1; id=abc; v=STSv1", NULL, "v= appears again"},
        {"v=STSv1; id=abc;v=STSv1; id=def", NULL, "v= appears again"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        sts_check(cases[i].txt, strlen(cases[i].txt), cases[i].id, cases[i].why, i);

    /* A record of PROBE_RECORD_FIELDS_MAX fields, and one more. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, "v=STSv1; id=abc");
    for (int k = 1; k < PROBE_RECORD_FIELDS_MAX; k++)
        buf_printf(&b, "; e%d=%d", k, k);
    sts_check(buf_cstr(&b), b.len, "abc", NULL, 100);
    buf_append_str(&b, "; last=1");
    sts_check(buf_cstr(&b), b.len, NULL, "more than 32 fields", 101);
    /* PROBE_RECORD_TEXT_MAX bytes, and one more. */
    const char *s = repeat(&b, "v=STSv1; id=abc; e=", 'x', PROBE_RECORD_TEXT_MAX - 19, "");
    sts_check(s, strlen(s), "abc", NULL, 102);
    s = repeat(&b, "v=STSv1; id=abc; e=", 'x', PROBE_RECORD_TEXT_MAX - 18, "");
    sts_check(s, strlen(s), NULL, "longer than 65535 bytes", 103);
    buf_free(&b);
}

static void test_records_is(void **state)
{
    (void)state;
    static const struct {
        const char *txt;
        bool sts, tlsrpt;
    } cases[] = {
        {"v=STSv1; id=x", true, false},
        {"v=STSv1", true, false},
        {"v=STSv1 ;", true, false},
        {"v=STSv1 garbage", true, false},
        {"v=STSv10", false, false},
        {"V=STSv1", false, false},
        {" v=STSv1", false, false},
        {"v=STS", false, false},
        {"v=TLSRPTv1; rua=mailto:a@b", false, true},
        {"v=TLSRPTv1", false, true},
        {"v=TLSRPTv1\t;", false, true},
        {"v=TLSRPTv11", false, false},
        {"v=tlsrptv1", false, false},
        {"v=spf1 -all", false, false},
        {"", false, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t n = strlen(cases[i].txt);
        char *in = exact_copy(cases[i].txt, n);
        if (probe_mta_sts_is(in, n) != cases[i].sts || probe_tlsrpt_is(in, n) != cases[i].tlsrpt)
            fail_msg("case %zu \"%s\"", i, cases[i].txt);
        free(in);
    }
}

struct tlsrpt_case {
    const char *txt;
    const char *rua[PROBE_RUA_MAX]; /* rua[0] NULL and why set: invalid */
    const char *why;
};

static void tlsrpt_check(const char *txt, size_t n, const struct tlsrpt_case *c, size_t i)
{
    char *in = exact_copy(txt, n);
    struct probe_tlsrpt r;
    memset(&r, 'x', sizeof(r));
    probe_tlsrpt_parse(in, n, &r);
    if (c->why == NULL) {
        if (!r.valid)
            fail_msg("case %zu \"%s\": not valid: %s", i, txt, r.why);
        assert_string_equal(r.why, "");
        size_t want = 0;
        while (want < PROBE_RUA_MAX && c->rua[want] != NULL)
            want++;
        assert_int_equal(r.n_rua, want);
        for (size_t k = 0; k < want; k++)
            assert_string_equal(r.rua[k], c->rua[k]);
        assert_true(probe_tlsrpt_is(in, n));
    } else {
        if (r.valid || strstr(r.why, c->why) == NULL)
            fail_msg("case %zu \"%s\": valid %d why \"%s\", want \"%s\"", i, txt, r.valid, r.why,
                     c->why);
        assert_int_equal(r.n_rua, 0);
        assert_int_equal(r.n_rua_all, 0);
    }
    free(in);
}

static void test_tlsrpt(void **state)
{
    (void)state;
    static const struct tlsrpt_case cases[] = {
        /* RFC 8460's examples. */
        {"v=TLSRPTv1;rua=mailto:reports@example.com", {"mailto:reports@example.com"}, NULL},
        {"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
         {"https://reporting.example.com/v1/tlsrpt"},
         NULL},
        {"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x",
         {"mailto:a@example.com", "https://r.example.com/x"},
         NULL},
        {"v=TLSRPTv1; rua=mailto:a@example.com , \tmailto:b@example.com ;",
         {"mailto:a@example.com", "mailto:b@example.com"},
         NULL},
        /* A second rua= adds to the first. */
        {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
         {"mailto:a@example.com", "mailto:b@example.com"},
         NULL},
        {"v=TLSRPTv1; rua=MAILTO:a@example.com", {"MAILTO:a@example.com"}, NULL},
        {"v=TLSRPTv1; rua=HTTPS://example.com", {"HTTPS://example.com"}, NULL},
        {"v=TLSRPTv1; rua=https://example.com/report?x=1&y=2",
         {"https://example.com/report?x=1&y=2"},
         NULL},
        {"v=TLSRPTv1; ext=val; rua=mailto:a@b.example", {"mailto:a@b.example"}, NULL},
        {"v=TLSRPTv1; rua=mailto:a%21b@example.com", {"mailto:a%21b@example.com"}, NULL},
        {"v=TLSRPTv1; rua=mailto:tls@example.com?subject=tlsrpt",
         {"mailto:tls@example.com?subject=tlsrpt"},
         NULL},
        {"v=TLSRPTv1; rua=mailto:a@b.example; ext=1; ext=2", {"mailto:a@b.example"}, NULL},
        /* Invalid. */
        {"v=TLSRPTv1", {NULL}, "no rua= field: it is required"},
        {"v=TLSRPTv1;", {NULL}, "no rua= field"},
        {"v=TLSRPTv1; RUA=mailto:a@b.example", {NULL}, "\"RUA=\" is not rua="},
        {"v=TLSRPTv1; rua=http://example.com/r",
         {NULL},
         "the report URI \"http:\" is not mailto: or https:"},
        {"v=TLSRPTv1; rua=tls@example.com", {NULL}, "is not mailto: or https:"},
        {"v=TLSRPTv1; rua=mailto:example.com", {NULL}, "has no local@domain address"},
        {"v=TLSRPTv1; rua=mailto:@example.com", {NULL}, "has no local@domain address"},
        {"v=TLSRPTv1; rua=mailto:a@", {NULL}, "has no local@domain address"},
        {"v=TLSRPTv1; rua=mailto:a@?x=1", {NULL}, "has no local@domain address"},
        {"v=TLSRPTv1; rua=https:///x", {NULL}, "has no host"},
        {"v=TLSRPTv1; rua=https://", {NULL}, "has no host"},
        {"v=TLSRPTv1; rua=https:example.com", {NULL}, "has no host"},
        {"v=TLSRPTv1; rua=mailto:a@b.example,,mailto:c@d.example", {NULL}, "an empty report URI"},
        {"v=TLSRPTv1; rua=mailto:a@b.example,", {NULL}, "an empty report URI"},
        {"v=TLSRPTv1; rua=", {NULL}, "the field \"rua\" has an empty value"},
        {"v=TLSRPTv1; rua=mailto:a!b@example.com",
         {NULL},
         "'!' in the report URI \"mailto:a!b@example.com\" must be percent-encoded (%21)"},
        {"v=TLSRPTv1; rua=mailto:a b@example.com", {NULL}, "white space in the report URI"},
        {"v=TLSRPTv1; rua=mailto:a@b.example%2", {NULL}, "is not a URI (byte '%')"},
        {"v=TLSRPTv1; rua=mailto:a@b.example%zz", {NULL}, "is not a URI"},
        {"v=TLSRPTv1; rua=mailto:<a@b.example>", {NULL}, "is not a URI (byte '<')"},
        {"v=TLSRPTv1; rua=mailto:a@b.example; rua=http://x", {NULL}, "not mailto: or https:"},
        {"v=TLSRPTv1 rua=mailto:a@b.example", {NULL}, "after v=TLSRPTv1: fields are separated"},
        {"v=TLSRPTv1; rua=mailto:a@b.example; v=TLSRPTv1; rua=mailto:c@d.example",
         {NULL},
         "v= appears again"},
        {"v=tlsrptv1; rua=mailto:a@b.example", {NULL}, "v=TLSRPTv1 is case-sensitive"},
        {"v=STSv1; id=abc", {NULL}, "does not begin with v=TLSRPTv1"},
        {"v=TLSRPTv1; rua=mailto:a@b.example; e= 1", {NULL}, "white space after '='"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        tlsrpt_check(cases[i].txt, strlen(cases[i].txt), &cases[i], i);
}

static void test_tlsrpt_limits(void **state)
{
    (void)state;
    struct probe_tlsrpt r;
    /* More URIs than are kept. */
    static const char five[] = "v=TLSRPTv1; rua=mailto:a@x.example,mailto:b@x.example,"
                               "mailto:c@x.example,mailto:d@x.example;rua=mailto:e@x.example";
    probe_tlsrpt_parse(five, strlen(five), &r);
    assert_true(r.valid);
    assert_int_equal(r.n_rua, PROBE_RUA_MAX);
    assert_int_equal(r.n_rua_all, 5);
    assert_string_equal(r.rua[3], "mailto:d@x.example");

    /* A URI of PROBE_URI_MAX bytes is kept; one of a byte more is not,
     * but the record stays valid. */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    const char *s = repeat(&b, "v=TLSRPTv1; rua=https://", 'h', PROBE_URI_MAX - 8, "");
    probe_tlsrpt_parse(s, strlen(s), &r);
    assert_true(r.valid);
    assert_int_equal(r.n_rua, 1);
    assert_int_equal(strlen(r.rua[0]), PROBE_URI_MAX);
    s = repeat(&b, "v=TLSRPTv1; rua=https://", 'h', PROBE_URI_MAX - 7, ",mailto:a@b.example");
    probe_tlsrpt_parse(s, strlen(s), &r);
    assert_true(r.valid);
    assert_int_equal(r.n_rua, 1);
    assert_int_equal(r.n_rua_all, 2);
    assert_string_equal(r.rua[0], "mailto:a@b.example");
    /* The record's own limit. */
    s = repeat(&b, "v=TLSRPTv1; rua=https://", 'h', PROBE_RECORD_TEXT_MAX - 24, "");
    probe_tlsrpt_parse(s, strlen(s), &r);
    assert_true(r.valid);
    assert_int_equal(r.n_rua, 0);
    assert_int_equal(r.n_rua_all, 1);
    s = repeat(&b, "v=TLSRPTv1; rua=https://", 'h', PROBE_RECORD_TEXT_MAX - 23, "");
    probe_tlsrpt_parse(s, strlen(s), &r);
    assert_false(r.valid);
    assert_string_equal(r.why, "longer than 65535 bytes, more than DNS can hold");
    buf_free(&b);
}

/* The report: network text made printable, JSON escaped, counts and the
 * text form's lines. */
static void test_report(void **state)
{
    (void)state;
    struct probe_report *r = probe_report_new("probe", "ex\"ample.org");
    probe_report_fact(r, "early", "before any section"); /* gets a "general" one */
    probe_report_section(r, "smtp:192.0.2.1", "mx [192.0.2.1]:25");
    probe_report_fact(r, "banner", "220 evil\r\nInjected: \x01\xff \"q\" \\");
    probe_report_check(r, "starttls", PROBE_FAIL, "not offered");
    probe_report_check(r, "software", PROBE_WARN, "Sendmail %s is obsolete", "8.11.6");
    probe_report_check(r, "mta-sts", PROBE_INFO, "none");
    probe_report_check(r, "banner", PROBE_OK, "greets");
    assert_int_equal(probe_report_count(r, PROBE_FAIL), 1);
    assert_int_equal(probe_report_count(r, PROBE_WARN), 1);
    assert_int_equal(probe_report_count(r, PROBE_OK), 1);
    assert_int_equal(probe_report_count(r, PROBE_INFO), 1);
    char *text = NULL, *json = NULL;
    size_t tl, jl;
    FILE *f = open_memstream(&text, &tl);
    probe_report_print_text(r, f);
    fclose(f);
    f = open_memstream(&json, &jl);
    probe_report_print_json(r, f);
    fclose(f);
    assert_non_null(strstr(text, "postino probe: ex\"ample.org\n"));
    assert_non_null(strstr(text, "\n== General\n"));
    assert_non_null(strstr(text, "\n== mx [192.0.2.1]:25\n"));
    assert_non_null(strstr(text, "   fail  starttls           not offered\n"));
    assert_non_null(strstr(text, "   warn  software           Sendmail 8.11.6 is obsolete\n"));
    assert_non_null(strstr(text, "Result: 1 ok, 1 warning, 1 failure\n"));
    /* no raw control character reaches either form */
    for (const char *p = text; *p; p++)
        assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
    for (const char *p = json; *p; p++)
        assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
    assert_non_null(strstr(json, "\"command\": \"probe\", \"target\": \"ex\\\"ample.org\""));
    assert_non_null(strstr(json, "{\"id\": \"starttls\", \"verdict\": \"fail\", \"why\": "
                                 "\"not offered\"}"));
    assert_non_null(strstr(json, "\"summary\": {\"ok\": 1, \"warn\": 1, \"fail\": 1, "
                                 "\"info\": 1}}"));
    /* CR LF made printable (\x0d\x0a), that backslash escaped in JSON */
    assert_non_null(strstr(json, "220 evil\\\\x0d\\\\x0aInjected"));
    free(text);
    free(json);
    probe_report_free(&r);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_greetings), cmocka_unit_test(test_identify_ehlo),
        cmocka_unit_test(test_identify_limits),    cmocka_unit_test(test_version_compare),
        cmocka_unit_test(test_table_parse),        cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_table_limits),       cmocka_unit_test(test_age_shipped_table),
        cmocka_unit_test(test_age_rules),          cmocka_unit_test(test_mta_sts),
        cmocka_unit_test(test_records_is),         cmocka_unit_test(test_tlsrpt),
        cmocka_unit_test(test_tlsrpt_limits),      cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
