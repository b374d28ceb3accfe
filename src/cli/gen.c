/*
 * orgsync gen: writes a synthetic organization for tests and benchmarks
 * (hidden from help). The output depends only on the options and the seed:
 * every record draws from its own generator, seeded from (seed, record), so
 * the same options give byte-identical files on any machine, and a record
 * can be recomputed wherever it is needed (a member's team and id when its
 * mapping row is written) instead of being remembered. Memory is O(1) in the
 * number of members; rows stream out through large stdio buffers.
 *
 * Shape: N members, N/8 teams in up to five levels (the root department
 * "Company", divisions, departments, teams, squads). Members belong to the
 * teams and squads only; the levels above hold subteams and a manager.
 * Members are spread over their teams through a bijection of [0, N), so the
 * rows of one team are scattered through members.csv as in a real export.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "format/csv.h"
#include "format/json.h"
#include "util/opt.h"

enum {
	LEVELS = 5,
	MIN_MEMBERS = 10,
	MAX_MEMBERS = 1000000,
	OUT_BUFSIZE = 1 << 20,
	EXIT_IO = 1,
};

/* Streams of the seeded generators: one per kind of record. */
enum stream { STREAM_SHAPE = 1, STREAM_MEMBER, STREAM_TEAM };

/* What is wrong with an injected bad record (--errors). */
enum bad {
	BAD_NONE,
	BAD_EMAIL,      /* invalid email address */
	BAD_DUP_ID,     /* repeats the previous row's externalMemberId */
	BAD_LANGUAGE,   /* unknown language */
	BAD_TEAM,       /* the member's mapping names a team that does not exist */
	BAD_COUNT
};

struct gen {
	/* options */
	uint32_t n;
	uint64_t seed;
	double bad_fraction;
	int json; /* --format: 0 csv, 1 json */
	bool legacy;
	const char *dir;
	/* shape */
	uint32_t nteams;
	int depth;             /* levels present, 1..LEVELS */
	int lo;                /* first level whose teams hold members */
	uint32_t count[LEVELS];
	uint32_t first[LEVELS];
	uint32_t nmteams;      /* teams holding members: levels lo..depth-1 */
	uint64_t perm_a, perm_b, perm_ainv; /* row -> slot bijection of [0, n) */
	uint32_t name_off[LEVELS];
	/* what was written */
	uint64_t nmappings;
	uint64_t nbad[BAD_COUNT];
};

/* ---- deterministic generator: xoshiro256**, seeded by splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, enum stream stream, uint64_t index)
{
	uint64_t x = seed ^ ((uint64_t)stream << 56) ^ (index * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n): the multiply-shift map; its bias is far below noise here. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- vocabulary ---- */

/* A name and the ASCII spelling used in the email address. */
struct name {
	const char *name;
	const char *slug;
};

static const struct name FIRST_NAMES[] = {
	{ "Emma", "emma" }, { "Liam", "liam" }, { "Olivia", "olivia" }, { "Noah", "noah" },
	{ "Zoë", "zoe" }, { "Élodie", "elodie" }, { "François", "francois" },
	{ "Łukasz", "lukasz" }, { "Søren", "soren" }, { "José", "jose" },
	{ "Chloé", "chloe" }, { "Mathéo", "matheo" }, { "Anaïs", "anais" },
	{ "Jürgen", "jurgen" }, { "Björn", "bjorn" }, { "João", "joao" },
	{ "Siobhán", "siobhan" }, { "Aoife", "aoife" }, { "Priya", "priya" },
	{ "Arjun", "arjun" }, { "Mei", "mei" }, { "伟", "wei" }, { "秀英", "xiuying" },
	{ "Hiroshi", "hiroshi" }, { "Yuki", "yuki" }, { "Fatima", "fatima" },
	{ "Mohammed", "mohammed" }, { "Olamide", "olamide" }, { "Sofía", "sofia" },
	{ "Mateo", "mateo" }, { "Zoltán", "zoltan" }, { "Ágnes", "agnes" },
	{ "Thanh", "thanh" }, { "Minh", "minh" }, { "Ольга", "olga" },
	{ "Дмитрий", "dmitry" }, { "Marie-Ève", "marieeve" }, { "Jean-Luc", "jeanluc" },
	{ "William", "william" }, { "Sarah", "sarah" }, { "Michael", "michael" },
	{ "Jessica", "jessica" }, { "David", "david" }, { "Laura", "laura" },
	{ "Gabriel", "gabriel" }, { "Léa", "lea" }, { "Nathalie", "nathalie" },
	{ "Kwame", "kwame" },
};

static const struct name LAST_NAMES[] = {
	{ "Smith", "smith" }, { "Tremblay", "tremblay" }, { "Gagnon", "gagnon" },
	{ "Roy", "roy" }, { "Côté", "cote" }, { "Bouchard", "bouchard" },
	{ "Gauthier", "gauthier" }, { "Müller", "muller" }, { "Schröder", "schroder" },
	{ "Søndergaard", "sondergaard" }, { "Kowalski", "kowalski" },
	{ "Wójcik", "wojcik" }, { "García", "garcia" }, { "Pérez", "perez" },
	{ "Gonçalves", "goncalves" }, { "O'Brien", "obrien" },
	{ "O'Brien, Jr.", "obrienjr" }, { "Nguyễn", "nguyen" }, { "Trần", "tran" },
	{ "王", "wang" }, { "李", "li" }, { "张", "zhang" }, { "佐藤", "sato" },
	{ "田中", "tanaka" }, { "Kim", "kim" }, { "Patel", "patel" }, { "Singh", "singh" },
	{ "Иванова", "ivanova" }, { "Dubois", "dubois" }, { "Lefèvre", "lefevre" },
	{ "D'Amico", "damico" }, { "van der Berg", "vanderberg" }, { "Núñez", "nunez" },
	{ "Ødegård", "odegard" }, { "Martin", "martin" }, { "Johnson", "johnson" },
	{ "Williams", "williams" }, { "Brown", "brown" }, { "Okafor", "okafor" },
	{ "Lévesque", "levesque" }, { "King, III", "kingiii" }, { "Fernández", "fernandez" },
};

static const char *const IC_TITLES[] = {
	"Software Engineer", "Senior Software Engineer", "Account Executive",
	"Data Analyst", "Product Designer", "HR Business Partner", "Accountant",
	"Développeuse principale", "Ingénieur logiciel", "Ingeniera de datos",
	"QA Analyst", "Engineer, Site Reliability", "Specialist, Payroll & Benefits",
	"Customer Success Specialist", "Technical Writer", "Recruiter",
	"Sales Development Representative", "Analyste financière", "Support Agent",
	"Staff Engineer", "\"Chief\" Coffee Officer",
};

static const char *const MANAGER_TITLES[] = {
	"Engineering Manager", "Team Lead", "Sales Manager", "Gerente de producto",
	"Responsable d'équipe", "Manager, Customer Success", "Support Lead",
	"Head of \"Growth\"",
};

/* Titles of the people who manage the upper levels (indexed by level). */
static const char *const EXEC_TITLES[][3] = {
	{ "Chief Executive Officer", "Président-directeur général", "CEO, Founder" },
	{ "Vice President, Operations", "VP of Engineering", "Vice-présidente, Ventes" },
	{ "Director, Sales", "Head of \"Growth\"", "Directrice des ressources humaines" },
};

/* A title with an embedded newline: exports from spreadsheets have these. */
static const char *const MULTILINE_TITLES[] = {
	"Senior Engineer\nPlatform",
	"Analyst\n(part-time)",
};

static const char *const DIVISIONS[] = {
	"Sales", "Engineering", "Operations", "Finance", "Marketing", "People & Culture",
	"Product", "Customer Success", "Legal", "Research, Development & Innovation",
	"Ventes", "Développement", "Qualité",
};

static const char *const REGIONS[] = {
	"East", "West", "North", "South", "Central", "EMEA", "APAC", "Québec",
	"Île-de-France", "München", "São Paulo", "東京",
};

static const char *const FUNCTIONS[] = {
	"Platform", "Payments", "Mobile", "Data", "Infrastructure", "Recruiting",
	"Accounts Payable", "Field Sales", "Support, Tier 2", "Design", "Security",
	"Onboarding", "Analytics", "Growth", "Billing", "Intégration",
};

static const char *const SQUADS[] = {
	"Alpha", "Beta", "Γ", "Δ", "Ω", "Phoenix", "Orca", "Kōwhai",
};

/* Malformed addresses (separator, domain): no @, nothing after it, a blank, two @. */
static const char *const BAD_EMAILS[][2] = {
	{ ".", ".example.com" }, { ".", "@" }, { " ", "@example.com" }, { ".", "@@example.com" },
};

struct lang_choice {
	const char *codes;  /* current: ';'-separated codes */
	const char *legacy; /* legacy: one language name */
	unsigned weight;    /* out of 100 */
};

static const struct lang_choice LANGS[] = {
	{ "en", "English", 40 }, { "fr", "Français", 15 }, { "fr;en", "Français", 15 },
	{ "en;fr", "English", 5 }, { "es", "Español", 7 }, { "es;en", "Español", 3 },
	{ "pt", "Português", 5 }, { "de", "Deutsche", 7 }, { "de;en", "Deutsche", 3 },
};

static const struct lang_choice BAD_LANG = { "xx", "Klingon", 0 };

struct product_choice {
	const char *names;
	unsigned weight;
};

static const struct product_choice PRODUCTS[] = {
	{ "Officevibe", 35 }, { "", 20 }, { "Officevibe;Skills", 15 },
	{ "Officevibe;Performance", 8 }, { "Skills", 5 }, { "Officevibe;Skills;LMS", 5 },
	{ "Pingboard", 3 }, { "Onboarding;Officevibe", 3 }, { "Workleap AI;Officevibe", 3 },
	{ "officevibe", 3 },
};

#define COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- shape ---- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Inverse of a modulo m (gcd(a, m) == 1, m <= MAX_MEMBERS). */
static uint64_t modinv(uint64_t a, uint64_t m)
{
	int64_t t = 0, nt = 1, r = (int64_t)m, nr = (int64_t)(a % m);

	while (nr) {
		int64_t q = r / nr, tmp;

		tmp = t - q * nt;
		t = nt;
		nt = tmp;
		tmp = r - q * nr;
		r = nr;
		nr = tmp;
	}
	return (uint64_t)(t < 0 ? t + (int64_t)m : t);
}

/*
 * Team counts per level: about 2% divisions, 10% departments, 50% teams,
 * the rest squads (so some teams have squads, some not). Each level takes
 * at least one team while any are left, so a small org is a short chain,
 * and every level above the member levels has at least as many teams as
 * the one above it: each of its teams has a child.
 */
static void shape_init(struct gen *g)
{
	static const unsigned share[LEVELS] = { 0, 50, 10, 2, 1 }; /* 1/share of all */
	uint32_t rest, total = g->n / 8 ? g->n / 8 : 1;
	struct rng r;

	g->nteams = total;
	memset(g->count, 0, sizeof(g->count));
	g->count[0] = 1;
	rest = total - 1;
	for (int l = 1; l < LEVELS && rest; l++) {
		uint32_t want = l == LEVELS - 1 ? rest : (total - 1) / share[l];

		if (want < 1)
			want = 1;
		if (want > rest)
			want = rest;
		g->count[l] = want;
		rest -= want;
	}
	g->depth = 0;
	for (int l = 0; l < LEVELS && g->count[l]; l++) {
		g->first[l] = l ? g->first[l - 1] + g->count[l - 1] : 0;
		g->depth = l + 1;
	}
	g->lo = g->depth - 1 < 3 ? g->depth - 1 : 3;
	g->nmteams = g->nteams - g->first[g->lo];

	rng_seed(&r, g->seed, STREAM_SHAPE, 0);
	g->perm_a = g->n / 4 + rng_below(&r, g->n / 2);
	while (gcd64(g->perm_a, g->n) != 1)
		g->perm_a++;
	g->perm_b = rng_below(&r, g->n);
	g->perm_ainv = modinv(g->perm_a, g->n);
	for (int l = 0; l < LEVELS; l++)
		g->name_off[l] = rng_below(&r, 1000);
}

static uint32_t slot_of_row(const struct gen *g, uint32_t row)
{
	return (uint32_t)((g->perm_a * row + g->perm_b) % g->n);
}

static uint32_t row_of_slot(const struct gen *g, uint32_t slot)
{
	return (uint32_t)((g->perm_ainv * ((slot + g->n - g->perm_b) % g->n)) % g->n);
}

/* The member team (0..nmteams) holding a slot, and the first slot of a team. */
static uint32_t mteam_of_slot(const struct gen *g, uint32_t slot)
{
	return (uint32_t)((uint64_t)slot * g->nmteams / g->n);
}

static uint32_t mteam_start(const struct gen *g, uint32_t k)
{
	return (uint32_t)(((uint64_t)k * g->n + g->nmteams - 1) / g->nmteams);
}

static int level_of(const struct gen *g, uint32_t t)
{
	int l = g->depth - 1;

	while (l > 0 && t < g->first[l])
		l--;
	return l;
}

/* Team t's parent (t > 0): the teams of a level split evenly over the level above. */
static uint32_t parent_of(const struct gen *g, uint32_t t)
{
	int l = level_of(g, t);
	uint64_t j = t - g->first[l];

	return g->first[l - 1] + (uint32_t)(j * g->count[l - 1] / g->count[l]);
}

/* Team t's first subteam, or UINT32_MAX when it has none. */
static uint32_t first_child(const struct gen *g, uint32_t t)
{
	int l = level_of(g, t);
	uint64_t j = t - g->first[l], c;

	if (l + 1 >= g->depth)
		return UINT32_MAX;
	c = (j * g->count[l + 1] + g->count[l] - 1) / g->count[l];
	if (c >= g->count[l + 1] || parent_of(g, g->first[l + 1] + (uint32_t)c) != t)
		return UINT32_MAX;
	return g->first[l + 1] + (uint32_t)c;
}

/*
 * Per-team draws: a squad may be led by its parent team's manager (a
 * manager of managers), and a few teams have a co-manager.
 */
struct team_info {
	int level;
	bool borrowed_manager;
	bool co_manager;
};

static void team_info(const struct gen *g, uint32_t t, struct team_info *ti)
{
	struct rng r;

	rng_seed(&r, g->seed, STREAM_TEAM, t);
	ti->level = level_of(g, t);
	ti->borrowed_manager = rng_below(&r, 100) < 25 && ti->level > g->lo;
	ti->co_manager = rng_below(&r, 100) < 5;
}

/*
 * Managers of the levels above the member teams are members of their first
 * descendant member team, at slot offset 2 + (lo - 1 - level). Returns how
 * many levels above team t (a member team) it is the first descendant of.
 */
static int upper_chain(const struct gen *g, uint32_t t)
{
	int n = 0;

	if (level_of(g, t) != g->lo)
		return 0;
	while (t > 0) {
		uint32_t p = parent_of(g, t);

		if (first_child(g, p) != t)
			break;
		n++;
		t = p;
	}
	return n;
}

/* The member team under upper team t whose members include t's manager. */
static uint32_t first_member_team(const struct gen *g, uint32_t t)
{
	while (t != UINT32_MAX && level_of(g, t) < g->lo)
		t = first_child(g, t);
	return t;
}

static void put_id(char *buf, char prefix, uint32_t v, int width)
{
	buf[0] = prefix;
	for (int i = width; i >= 1; i--) {
		buf[i] = (char)('0' + v % 10);
		v /= 10;
	}
	buf[width + 1] = '\0';
}

static void team_id(uint32_t t, char buf[16])
{
	put_id(buf, 'T', t + 1, 6);
}

static void team_name(const struct gen *g, uint32_t t, char *buf, size_t cap)
{
	int l = level_of(g, t);
	uint32_t j = t - g->first[l];
	uint32_t k = j + g->name_off[l];
	char parent[192];

	switch (l) {
	case 0:
		snprintf(buf, cap, "Company");
		break;
	case 1:
		if (j < COUNTOF(DIVISIONS))
			snprintf(buf, cap, "%s", DIVISIONS[k % COUNTOF(DIVISIONS)]);
		else
			snprintf(buf, cap, "%s %" PRIu32, DIVISIONS[k % COUNTOF(DIVISIONS)],
				 (uint32_t)(j / COUNTOF(DIVISIONS) + 1));
		break;
	case 2:
		snprintf(buf, cap, "%s — %s %" PRIu32,
			 DIVISIONS[(parent_of(g, t) - g->first[1] + g->name_off[1]) % COUNTOF(DIVISIONS)],
			 REGIONS[k % COUNTOF(REGIONS)], j + 1);
		break;
	case 3:
		snprintf(buf, cap, "%s %" PRIu32, FUNCTIONS[k % COUNTOF(FUNCTIONS)], j + 1);
		break;
	default:
		team_name(g, parent_of(g, t), parent, sizeof(parent));
		snprintf(buf, cap, "%s · Squad %s", parent, SQUADS[k % COUNTOF(SQUADS)]);
		break;
	}
}

/* ---- members ---- */

struct member_rec {
	char id[16];
	char email[160];
	char image[64];
	const char *first;
	const char *last;
	const char *title;
	const struct lang_choice *lang;
	const char *products;
	uint32_t team;       /* global team index */
	bool team_unknown;   /* BAD_TEAM: the mapping names a missing team */
	bool is_manager;     /* of its own team */
	enum bad bad;
};

/*
 * Everything about member row i. Called again for the mapping rows, so it
 * must draw the same numbers in the same order whatever it is used for.
 */
static void member_make(const struct gen *g, uint32_t i, struct member_rec *m)
{
	const struct name *fn, *ln;
	uint32_t slot, k, off, start;
	struct team_info ti;
	struct rng r;
	const char *sep = ".", *domain = "@example.com";
	uint32_t kind, bad_email;
	double roll;
	unsigned w;
	int chain;

	/* Always drawn, so --errors breaks records of the same org, not another. */
	rng_seed(&r, g->seed, STREAM_MEMBER, i);
	roll = rng_unit(&r);
	kind = rng_below(&r, BAD_COUNT - 1);
	bad_email = rng_below(&r, COUNTOF(BAD_EMAILS));
	m->bad = roll < g->bad_fraction ? (enum bad)(BAD_EMAIL + kind) : BAD_NONE;
	if (m->bad == BAD_DUP_ID && i == 0)
		m->bad = BAD_EMAIL;

	put_id(m->id, 'E', m->bad == BAD_DUP_ID ? i : i + 1, 7);
	fn = &FIRST_NAMES[rng_below(&r, COUNTOF(FIRST_NAMES))];
	ln = &LAST_NAMES[rng_below(&r, COUNTOF(LAST_NAMES))];
	m->first = fn->name;
	m->last = ln->name;
	if (m->bad == BAD_EMAIL) {
		sep = BAD_EMAILS[bad_email][0];
		domain = BAD_EMAILS[bad_email][1];
	}
	snprintf(m->email, sizeof(m->email), "%s%s%s%s%" PRIu32 "%s",
		 fn->slug, sep, ln->slug, sep, i + 1, domain);
	if (rng_below(&r, 100) < 60)
		snprintf(m->image, sizeof(m->image), "https://avatars.example.com/%s.png",
			 m->id);
	else
		m->image[0] = '\0';

	w = rng_below(&r, 100);
	m->lang = &LANGS[0];
	for (size_t x = 0; x < COUNTOF(LANGS); x++) {
		if (w < LANGS[x].weight) {
			m->lang = &LANGS[x];
			break;
		}
		w -= LANGS[x].weight;
	}
	if (m->bad == BAD_LANGUAGE)
		m->lang = &BAD_LANG;
	w = rng_below(&r, 100);
	m->products = PRODUCTS[0].names;
	for (size_t x = 0; x < COUNTOF(PRODUCTS); x++) {
		if (w < PRODUCTS[x].weight) {
			m->products = PRODUCTS[x].names;
			break;
		}
		w -= PRODUCTS[x].weight;
	}

	slot = slot_of_row(g, i);
	k = mteam_of_slot(g, slot);
	start = mteam_start(g, k);
	off = slot - start;
	m->team = g->first[g->lo] + k;
	m->team_unknown = m->bad == BAD_TEAM;
	team_info(g, m->team, &ti);
	m->is_manager = (off == 0 && !ti.borrowed_manager) || (off == 1 && ti.co_manager);

	chain = off >= 2 ? upper_chain(g, m->team) : 0;
	if (m->is_manager) {
		m->title = MANAGER_TITLES[rng_below(&r, COUNTOF(MANAGER_TITLES))];
	} else if (off >= 2 && (int)off < 2 + chain) {
		int level = g->lo - 1 - (int)(off - 2);

		m->title = EXEC_TITLES[level][rng_below(&r, COUNTOF(EXEC_TITLES[0]))];
	} else {
		m->title = IC_TITLES[rng_below(&r, COUNTOF(IC_TITLES))];
	}
	if (rng_below(&r, 1000) == 0)
		m->title = MULTILINE_TITLES[rng_below(&r, COUNTOF(MULTILINE_TITLES))];
}

/* The custom property: the department (level 2) above the member's team. */
static void member_department(const struct gen *g, uint32_t t, char *buf, size_t cap)
{
	while (level_of(g, t) > 2)
		t = parent_of(g, t);
	team_name(g, t, buf, cap);
}

/* The id written for the member at a slot (the id its mapping rows use). */
static void member_id_at_slot(const struct gen *g, uint32_t slot, char id[16])
{
	struct member_rec m;

	member_make(g, row_of_slot(g, slot), &m);
	memcpy(id, m.id, sizeof(m.id));
}

/* ---- writers ---- */

struct sink {
	FILE *f;
	bool json;
	const struct dialect *d;
	bool first;        /* no record written yet in the current JSON array */
	struct buf field;  /* one field, quoted or escaped by format/ */
	bool failed;       /* out of memory: the output is incomplete */
};

/* Writes what format/ made of one field, or notes that it could not. */
static void put_field(struct sink *s, int rc)
{
	if (rc)
		s->failed = true;
	else
		fwrite_unlocked(s->field.data, 1, s->field.len, s->f);
	buf_reset(&s->field);
}

static void csv_field(struct sink *s, const char *v)
{
	put_field(s, format_csv_field(&s->field, v, 0));
}

static void json_str(struct sink *s, const char *v)
{
	put_field(s, format_json_string(&s->field, v));
}

static void csv_sep(FILE *f)
{
	putc_unlocked(',', f);
}

/* "key": */
static void json_key(FILE *f, const char *key, bool first)
{
	if (!first)
		putc_unlocked(',', f);
	putc_unlocked('"', f);
	fputs_unlocked(key, f);
	fputs_unlocked("\":", f);
}

/* A ';'-separated list as a JSON array. */
static void json_list(struct sink *s, const char *list)
{
	char item[64];

	putc_unlocked('[', s->f);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ";");

		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (p != list)
			putc_unlocked(',', s->f);
		json_str(s, item);
		p += n;
		if (*p == ';')
			p++;
	}
	putc_unlocked(']', s->f);
}

/* Field names of the two dialects. */
struct dialect {
	const char *members_file, *teams_file, *mappings_file;
	const char *members, *teams, *mappings; /* JSON sections */
	const char *member_id, *language, *team_id, *team_name;
	const char *map_team, *map_member, *map_subteam;
};

static const struct dialect CURRENT = {
	"members.csv", "teams.csv", "teams-mappings.csv",
	"members", "teams", "teamMappings",
	"externalMemberId", "languagePreferences", "externalTeamId", "teamName",
	"externalTeamId", "externalMemberId", "externalSubteamId",
};

static const struct dialect LEGACY = {
	"users.csv", "groups.csv", "groups-mapping.csv",
	"users", "groups", "mappings",
	"id", "language", "id", "name",
	"groupId", "userId", "subGroupId",
};

/* One output file, written under a temporary name and renamed when complete. */
struct out {
	FILE *f;
	char *vbuf;
	char path[4096];
	char tmp[4112];
};

static int out_open(struct out *o, const char *dir, const char *name)
{
	int n = snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(o->path)) {
		fprintf(stderr, "orgsync gen: path too long: %s/%s\n", dir, name);
		return -1;
	}
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", o->path);
	o->vbuf = malloc(OUT_BUFSIZE);
	o->f = o->vbuf ? fopen(o->tmp, "w") : NULL;
	if (!o->f) {
		fprintf(stderr, "orgsync gen: %s: %s\n", o->tmp, strerror(errno ? errno : ENOMEM));
		free(o->vbuf);
		o->vbuf = NULL;
		return -1;
	}
	setvbuf(o->f, o->vbuf, _IOFBF, OUT_BUFSIZE);
	return 0;
}

/* Closes; on success renames into place, else removes the partial file. */
static int out_close(struct out *o, bool ok)
{
	int rc = 0;

	if (!o->f)
		return 0;
	if (ferror(o->f))
		ok = false;
	if (fclose(o->f) != 0)
		ok = false;
	o->f = NULL;
	free(o->vbuf);
	o->vbuf = NULL;
	if (ok && rename(o->tmp, o->path) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "orgsync gen: cannot write %s: %s\n", o->path,
			strerror(errno ? errno : EIO));
		unlink(o->tmp);
		rc = -1;
	}
	return rc;
}

/* Record separators: CSV rows end in LF; JSON records sit one per line. */
static void record_begin(struct sink *s)
{
	if (s->json) {
		fputs_unlocked(s->first ? "\n{" : ",\n{", s->f);
		s->first = false;
	}
}

static void record_end(struct sink *s)
{
	putc_unlocked(s->json ? '}' : '\n', s->f);
}

static void section_begin(struct sink *s, const char *name, bool first_section,
			  const char *csv_header)
{
	if (s->json) {
		fputs_unlocked(first_section ? "{\"" : "\n],\"", s->f);
		fputs_unlocked(name, s->f);
		fputs_unlocked("\":[", s->f);
		s->first = true;
	} else {
		fputs_unlocked(csv_header, s->f);
	}
}

static void write_member(struct sink *s, const struct gen *g, const struct member_rec *m)
{
	FILE *f = s->f;
	char dept[256];

	member_department(g, m->team, dept, sizeof(dept));
	record_begin(s);
	if (s->json) {
		json_key(f, s->d->member_id, true);
		json_str(s, m->id);
		json_key(f, "email", false);
		json_str(s, m->email);
		json_key(f, "firstName", false);
		json_str(s, m->first);
		json_key(f, "lastName", false);
		json_str(s, m->last);
		json_key(f, "jobTitle", false);
		json_str(s, m->title);
		if (m->image[0]) {
			json_key(f, "imageUrl", false);
			json_str(s, m->image);
		}
		json_key(f, s->d->language, false);
		if (g->legacy) {
			json_str(s, m->lang->legacy);
		} else {
			json_list(s, m->lang->codes);
			json_key(f, "productAssignations", false);
			json_list(s, m->products);
		}
		json_key(f, "department", false);
		json_str(s, dept);
	} else {
		csv_field(s, m->id);
		csv_sep(f);
		csv_field(s, m->email);
		csv_sep(f);
		csv_field(s, m->first);
		csv_sep(f);
		csv_field(s, m->last);
		csv_sep(f);
		csv_field(s, m->title);
		csv_sep(f);
		csv_field(s, m->image);
		csv_sep(f);
		if (g->legacy) {
			csv_field(s, m->lang->legacy);
		} else {
			csv_field(s, m->lang->codes);
			csv_sep(f);
			csv_field(s, m->products);
		}
		csv_sep(f);
		csv_field(s, dept);
	}
	record_end(s);
}

static void write_team(struct sink *s, const struct gen *g, uint32_t t)
{
	char id[16], name[256];

	team_id(t, id);
	team_name(g, t, name, sizeof(name));
	record_begin(s);
	if (s->json) {
		json_key(s->f, s->d->team_id, true);
		json_str(s, id);
		json_key(s->f, s->d->team_name, false);
		json_str(s, name);
	} else {
		csv_field(s, id);
		csv_sep(s->f);
		csv_field(s, name);
	}
	record_end(s);
}

/* A mapping row: member (member != NULL) or subteam (subteam != NULL). */
static void write_mapping(struct sink *s, struct gen *g, const char *team, const char *member,
			  const char *subteam, bool is_member, bool is_manager)
{
	FILE *f = s->f;

	record_begin(s);
	if (s->json) {
		json_key(f, s->d->map_team, true);
		json_str(s, team);
		json_key(f, s->d->map_member, false);
		if (member)
			json_str(s, member);
		else
			fputs_unlocked("null", f);
		json_key(f, s->d->map_subteam, false);
		if (subteam)
			json_str(s, subteam);
		else
			fputs_unlocked("null", f);
		if (member) {
			json_key(f, "isMember", false);
			fputs_unlocked(is_member ? "true" : "false", f);
			json_key(f, "isManager", false);
			fputs_unlocked(is_manager ? "true" : "false", f);
		}
	} else {
		csv_field(s, team);
		csv_sep(f);
		csv_field(s, member ? member : "");
		csv_sep(f);
		csv_field(s, subteam ? subteam : "");
		csv_sep(f);
		if (member) {
			fputs_unlocked(is_member ? "true" : "false", f);
			csv_sep(f);
			fputs_unlocked(is_manager ? "true" : "false", f);
		} else {
			csv_sep(f);
		}
	}
	record_end(s);
	g->nmappings++;
}

static void write_members(struct sink *s, struct gen *g)
{
	struct member_rec m;

	section_begin(s, s->d->members, true, g->legacy ?
		      "id,email,firstName,lastName,jobTitle,imageUrl,language,department\n" :
		      "externalMemberId,email,firstName,lastName,jobTitle,imageUrl,"
		      "languagePreferences,productAssignations,department\n");
	for (uint32_t i = 0; i < g->n; i++) {
		member_make(g, i, &m);
		g->nbad[m.bad]++;
		write_member(s, g, &m);
	}
}

static void write_teams(struct sink *s, struct gen *g)
{
	section_begin(s, s->d->teams, false, g->legacy ? "id,name\n" :
		      "externalTeamId,teamName\n");
	for (uint32_t t = 0; t < g->nteams; t++)
		write_team(s, g, t);
}

/*
 * Subteam rows, then the managers who are not members of the team they
 * manage (upper levels, squads led by their parent team's manager), then
 * one membership row per member in row order.
 */
static void write_mappings(struct sink *s, struct gen *g)
{
	char tid[16], cid[16], mid[16];
	struct member_rec m;

	section_begin(s, s->d->mappings, false, g->legacy ?
		      "groupId,userId,subGroupId,isMember,isManager\n" :
		      "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n");
	for (uint32_t t = 1; t < g->nteams; t++) {
		team_id(parent_of(g, t), tid);
		team_id(t, cid);
		write_mapping(s, g, tid, NULL, cid, false, false);
	}
	for (uint32_t t = 0; t < g->nteams; t++) {
		struct team_info ti;
		uint32_t mt, slot;

		team_info(g, t, &ti);
		if (ti.level < g->lo) {
			mt = first_member_team(g, t);
			if (mt == UINT32_MAX)
				continue;
			slot = mteam_start(g, mt - g->first[g->lo]) + 2 +
			       (uint32_t)(g->lo - 1 - ti.level);
		} else if (ti.borrowed_manager) {
			slot = mteam_start(g, parent_of(g, t) - g->first[g->lo]);
		} else {
			continue;
		}
		team_id(t, tid);
		member_id_at_slot(g, slot, mid);
		write_mapping(s, g, tid, mid, NULL, false, true);
	}
	for (uint32_t i = 0; i < g->n; i++) {
		member_make(g, i, &m);
		if (m.team_unknown)
			put_id(tid, 'T', 9000000 + m.team + 1, 7);
		else
			team_id(m.team, tid);
		write_mapping(s, g, tid, m.id, NULL, true, m.is_manager);
	}
}

static int write_csv(struct gen *g, const struct dialect *d)
{
	const struct {
		const char *file;
		void (*write)(struct sink *, struct gen *);
	} files[] = {
		{ d->members_file, write_members },
		{ d->teams_file, write_teams },
		{ d->mappings_file, write_mappings },
	};
	struct out o = { 0 };
	struct sink s = { .json = false, .d = d };
	size_t i;
	int rc = -1;

	buf_init(&s.field);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (out_open(&o, g->dir, files[i].file))
			goto out;
		s.f = o.f;
		files[i].write(&s, g);
		if (s.failed || out_close(&o, true))
			goto out;
	}
	rc = 0;
out:
	out_close(&o, false);
	buf_free(&s.field);
	return rc;
}

static int write_json(struct gen *g, const struct dialect *d)
{
	struct out o = { 0 };
	struct sink s = { .json = true, .d = d };
	int rc = -1;

	buf_init(&s.field);
	if (out_open(&o, g->dir, "org.json"))
		goto out;
	s.f = o.f;
	write_members(&s, g);
	write_teams(&s, g);
	write_mappings(&s, g);
	fputs_unlocked("\n]}\n", o.f);
	if (s.failed || out_close(&o, true))
		goto out;
	rc = 0;
out:
	out_close(&o, false);
	buf_free(&s.field);
	return rc;
}

/* mkdir -p */
static int make_dir(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);
	struct stat st;

	if (len == 0 || len >= sizeof(path)) {
		fprintf(stderr, "orgsync gen: bad output directory '%s'\n", dir);
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST) {
			fprintf(stderr, "orgsync gen: cannot create %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		*p = c;
		if (!c)
			break;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "orgsync gen: %s is not a directory\n", dir);
		return -1;
	}
	return 0;
}

/* ---- options ---- */

/* --errors P%: a percentage, decimals allowed, from 0 to 100, into a fraction. */
static int take_percent(void *field, const char *arg, char *err, size_t errlen)
{
	size_t whole = strspn(arg, "0123456789"), frac = 0;
	const char *p = arg + whole;
	double v = -1;

	if (*p == '.') {
		frac = strspn(p + 1, "0123456789");
		p += 1 + frac;
	}
	if (*p == '%')
		p++;
	if (whole && (arg[whole] != '.' || frac) && !*p)
		v = strtod(arg, NULL);
	if (!(v >= 0 && v <= 100)) {
		snprintf(err, errlen, "a percentage from 0%% to 100%% is wanted, not '%.40s'", arg);
		return -1;
	}
	*(double *)field = v / 100;
	return 0;
}

static const char *const formats[] = { "csv", "json", NULL };

static const struct opt options[] = {
	{ .name = "members", .type = OPT_UINT, .offset = offsetof(struct gen, n),
	  .min = MIN_MEMBERS, .max = MAX_MEMBERS, .def = 1000, .help = "members; teams are N/8" },
	{ .name = "seed", .type = OPT_U64, .offset = offsetof(struct gen, seed), .max = UINT64_MAX,
	  .def = 1, .metavar = "S", .help = "64-bit seed; same options, same bytes" },
	{ .name = "out", .type = OPT_STRING, .offset = offsetof(struct gen, dir), .metavar = "DIR",
	  .help = "created if missing; gets members.csv, teams.csv, teams-mappings.csv (or "
		  "org.json with --format json)" },
	{ .name = "format", .type = OPT_ENUM, .values = formats, .offset = offsetof(struct gen, json),
	  .help = "the CSV trio, or one JSON payload" },
	{ .name = "legacy", .type = OPT_FLAG, .offset = offsetof(struct gen, legacy),
	  .help = "legacy formats: users.csv, groups.csv, groups-mapping.csv, or legacy JSON" },
	{ .name = "errors", .type = OPT_FUNC, .offset = offsetof(struct gen, bad_fraction),
	  .fn = take_percent, .metavar = "P%",
	  .help = "make P percent of the members bad records: invalid email, duplicate id, "
		  "unknown language, unknown team" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "gen",
	.usage = "usage: orgsync gen --out DIR [--members N] [--seed S] [--format csv|json]\n"
		 "                   [--legacy] [--errors P%]\n",
	.intro = "Writes a deterministic synthetic organization for tests and benchmarks.\n",
	.opts = options,
	.outro = "Exit status: 0 written, 1 write error, 2 bad arguments.\n",
};

int cmd_gen(int argc, char **argv)
{
	struct gen g = { 0 };
	uint64_t bad = 0;
	int first, rc = cli_options(&command, EXIT_INVALID, argc, argv, &g, &first);

	if (rc != -1)
		return rc;
	if (!g.dir) {
		fprintf(stderr, "orgsync gen: --out DIR is required\n%s", command.usage);
		return EXIT_INVALID;
	}

	shape_init(&g);
	if (make_dir(g.dir))
		return EXIT_IO;
	if (g.json)
		rc = write_json(&g, g.legacy ? &LEGACY : &CURRENT);
	else
		rc = write_csv(&g, g.legacy ? &LEGACY : &CURRENT);
	if (rc)
		return EXIT_IO;
	for (int b = BAD_EMAIL; b < BAD_COUNT; b++)
		bad += g.nbad[b];
	printf("orgsync gen: %" PRIu32 " members, %" PRIu32 " teams, %" PRIu64
	       " mappings, %" PRIu64 " bad records -> %s\n",
	       g.n, g.nteams, g.nmappings, bad, g.dir);
	return EXIT_OK;
}
