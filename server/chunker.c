/*
 * chunker: FastCDC-style content-defined chunking (see chunker.h).
 */
#include "chunker.h"

/* 256 random 64-bit values: splitmix64 from the seed 0x7461696c6f72
 * ("tailor"). Fixed forever: cut points, and so reuse between versions,
 * depend on it. */
static const uint64_t gear[256] = {
    0xe5c3735e58e1f0c7u, 0x3fbd3c08ca6a089au, 0x1a8ca1432bbc1945u,
    0x92ab7ee65055da8fu, 0x262de44278a176d0u, 0xaa297b0f9cc53622u,
    0x18e104ba67ecf70bu, 0x62c2c257a62c186fu, 0xa777be99bac8d9b8u,
    0xb7def7e8545fdab4u, 0x461e7f2a13f19402u, 0xcee68ac3a4870133u,
    0x3bed4803e1f6234fu, 0x7fed0e2fe9459f2eu, 0xa13b7d01b4337d43u,
    0x5bb7d2f932cd722bu, 0xf9b6facd2347a37bu, 0xf6b1015f42ee55d5u,
    0xfa2afcfc503493d8u, 0x33ec3e7b78a3ff64u, 0x6adb409c297c0e78u,
    0xc53f4f2a4a0c3046u, 0xb0a9a89ac05eeffbu, 0x7b540c5e8f34418bu,
    0x45301634c79e7451u, 0xe6cc5076b3abf171u, 0x7b436065f9eca514u,
    0xd9d474f080f14ffcu, 0x44cfa2d9cd4768fau, 0xb276cc91a4289518u,
    0x01d0615a4b9da148u, 0xb0b215c0acd7b7a4u, 0xdd014635d0700f37u,
    0x2cb749f834e0152au, 0x94c99cfe5f7e5216u, 0xb47d0d0a683a3ff0u,
    0x6a4cb96cb55c5ef7u, 0x021663d436a02899u, 0x301cb844c7481335u,
    0xac151075bffd9640u, 0xa4a4bf030d232469u, 0xa6834ea0140a6cfau,
    0x0defebcf787ec5fau, 0xf91a7a7e5b2b4d4au, 0xfc0d8bbc529ee9fdu,
    0x054ddc347b2d1d64u, 0x2779c50b821dd16eu, 0x3cb9ff582fe2226cu,
    0x6f6e0d71e1aaeb61u, 0xb3a49050924fc9e3u, 0x953a315f06e52107u,
    0xb2fd2ed21d542513u, 0x5c680446acd0fcbbu, 0xf50915d73add3317u,
    0xec2aaf22955726e2u, 0x7da3178ccfffa27bu, 0xea085ba9a8143bbfu,
    0xeecc396ba20db25cu, 0x7033b765b28f6519u, 0xa772174545b96f0fu,
    0x57e8714d00e6b0c7u, 0x688561ce6a4b80bdu, 0x13c72e4b7e5754f1u,
    0x17eb65fb8439bb84u, 0x57b70c601596ea0au, 0x902d1f74d66b88f1u,
    0x995518faf41f00e8u, 0x771cdae2eeef53d2u, 0xffda6281200940ebu,
    0xa262cb29d00f61b6u, 0xa0f829d6c96b72d9u, 0x8d28018301c05a1eu,
    0xf3cac8f73781d7c7u, 0xe72438ce6e21534du, 0xd750d0f148df7c95u,
    0x609cf5717320adeau, 0x49093cdd8ece16edu, 0x1ac091c7952eaff6u,
    0x498c2ca5975008dbu, 0xc47b872d6582e52fu, 0x8ed7f6cbd4627d4fu,
    0xc35ed42668ee2678u, 0x5980a36bdff4ae18u, 0xd1207e6c194a4184u,
    0x76abeb6297da6a79u, 0xd5ee6fbf54d94e9cu, 0x468a6df9762ee07fu,
    0xedc898de4347e321u, 0x12b27722088fca0bu, 0xe74934d135dfcd1au,
    0x923344d9186998bdu, 0xe4dbbb97c92a08e6u, 0x91c0a91b478088fau,
    0x0c5ec6794976a877u, 0x0a81d7db6b353e58u, 0xf21f6624de954574u,
    0xfca8289773a9f4f4u, 0x60d7231880b8eac9u, 0x405eb11e1dfd298au,
    0x16e0aa4ed53f8a59u, 0x7cc2e332f1e0a121u, 0x84da2c50754d46d9u,
    0xec7117c42db7286bu, 0x3ddaae5928e194b4u, 0xaba3fd8efe03231eu,
    0x82b5dbf0bfc04d71u, 0x392909927fb18f78u, 0x6fc5b58e331a3cfdu,
    0x5a16fa043a5697ddu, 0xf0b77b4f92542551u, 0x0006e2724e70db7cu,
    0x6a79e3f5a13a232fu, 0x3bd02948fadc233cu, 0x6eeb36f21a31a8bdu,
    0xe119f9808b27afb1u, 0x6f8de687ffb0ca71u, 0x2823a8287caae057u,
    0xd7a3eb54a58cc63au, 0xe851d2bcd0b73446u, 0x81de2e49165ea627u,
    0xcbcdfd09329e1df9u, 0xbb356198537a615du, 0x5dbec952433ebc4cu,
    0x5df682c432cc2c95u, 0x8366f0859bfe5c4au, 0x29d8dfe05611706du,
    0x190ac38261f4c4aeu, 0x85e8ba53d3492346u, 0x38aa93adab600b5cu,
    0xe1a45fa10eab6a94u, 0x9618944eb8868265u, 0xecfa8eaba98955d3u,
    0x1e69d964f4d00c95u, 0xe34afe29124ae626u, 0x8662fd0dab5a1134u,
    0xb9994d46cd9cc1b0u, 0xda24eed414e2a8e5u, 0xd19bd38ce374239cu,
    0x17403057ee812e56u, 0xfa2a7c1752f38488u, 0x250f75c06461ef4cu,
    0x735db9cf87dc8fe0u, 0x46c8f1dda31729bbu, 0x53173b26cd57a0e6u,
    0x17aa7b5a031445a2u, 0x26db7131ce8e7a48u, 0x4aa2ae5246721df6u,
    0xc693891bc7ff0078u, 0xe763f67b4a8fe773u, 0x2ab59c6983426dd4u,
    0xa4edc55384ed1f66u, 0x1b5c1e81edf82fe4u, 0x06743b67a52fcb3fu,
    0x3b74a8a568761459u, 0xb862fd683f2b2c05u, 0xb239d5a8baee204cu,
    0xd7a2857c4a15631bu, 0x818c15933cefe41eu, 0x9284406f5f47d68bu,
    0xf7ad099ea9385dafu, 0xbc7451abc88b9926u, 0x1c05a4082e94f6b1u,
    0x2c6f662af621fef8u, 0x606b22fd437ae9c8u, 0x9cb670a18dca153fu,
    0xc3fb656a7eb6ceceu, 0x851864870a8e2108u, 0x911c0bbf630be3eeu,
    0x52f82dfa42c96a42u, 0x311271cd4892a9d4u, 0x231872fc662f0f8fu,
    0x8c3a5c249a2c23a1u, 0x9ebe4bf622554980u, 0xd45bebed0aa7790au,
    0x72c2d77d66576452u, 0x311397e0743114d1u, 0x1972656bc374de2eu,
    0x6483d0aba6ee16d6u, 0x36139161f2b36e70u, 0xad1ae627b35d3971u,
    0x10236dad58a1e941u, 0x12fb0125e9bb4e00u, 0x9ab3397162a4659eu,
    0x06f0bdf17fb3dd01u, 0x4a635d1488838a83u, 0x482e0d4d4680e55du,
    0x71a16bb14289e23fu, 0x2d63374102e51d07u, 0x5d3606439c83e95bu,
    0x85f6ff34359aa1bcu, 0x41a928bba855ca86u, 0xa91483dd08028c7cu,
    0xe7feb2bb92a5e1c7u, 0xaa18631a5d5811c1u, 0xf0551e76e62e0894u,
    0xf3a2d07583402cacu, 0xf61381f61fbe197fu, 0x989cbd658f95e744u,
    0xec425f290febacedu, 0x0097cc1359c9bbb7u, 0x370fb19aee5e7519u,
    0xf5394b48f62d60ecu, 0xf9d51c6fddeaf2eeu, 0x0ca1cc5c64211156u,
    0x1f1dde8da025363fu, 0xf4cb6075064960b6u, 0xd8c28a9f3c7cbb56u,
    0xea570e1174eb39a9u, 0xad7b666de21d8295u, 0xd0b9b1b83b3b6ea2u,
    0x4cf6ffb6570b79adu, 0xa4bb6d25fe6c338bu, 0x46921406af929d41u,
    0x9ec409ff62ee7dc7u, 0xe84d326c8a72c2c9u, 0x591900544b63856au,
    0x85965a12237e15c3u, 0xb4747c8c14402844u, 0x58f738fe837ee65du,
    0x924d5cbf57e5bd3au, 0x5d89f9c8acc5999du, 0x72df291854a4ff6cu,
    0x77692ed41b8be58cu, 0x0f11d8b82d842f0au, 0xd9f9c0abfd0e1446u,
    0xffd5126d05573d32u, 0xf95ed4f72e823392u, 0x069c9adf1477c070u,
    0x042997daa8cb6615u, 0xcd2753689ae8320au, 0x1ddd1f8ec4d66617u,
    0xdd496bb3c570d02fu, 0x39ee189506999c91u, 0x280a83fc4d21d1e1u,
    0x7e30772cc51cef5cu, 0xfb9d8ec543a0a22du, 0x28782e98523917ddu,
    0x618cac0b8620e740u, 0x4b234a074a8e9dc8u, 0x69a0855d402db04bu,
    0x97b68adb221bb715u, 0xc79ddf0e2e4dc44du, 0x829c2ec33499a5e7u,
    0xc8f615ee7b68d030u, 0x09f4d7e458971ecbu, 0xdcf656986e9f11a5u,
    0x393a2042d38f32a4u, 0xadc640faf99b3df2u, 0x821b23485d1d1c20u,
    0xed39f90d586bee70u, 0x84e2d21d060634dfu, 0x060345aff7d7042du,
    0xcb2ed65cc722c4b7u, 0x104c816fd3fc611du, 0xfa2a065bb5dc406fu,
    0x8194ff42469c6721u,
};

/* Normalized chunking, level 2: the mask before the average point has two
 * more bits than log2(avg), the one after it two fewer. */
#define CHUNKER_NORMALIZATION 2

/* A mask of the `bits` highest bits: the top bits of the gear hash depend on
 * the most bytes (bit k on the last k + 1), so cuts depend on a 64-byte
 * window rather than on the last few bytes. */
static uint64_t top_bits(unsigned bits)
{
    return bits == 0 ? 0 : ~UINT64_C(0) << (64 - bits);
}

int chunker_init(struct chunker *c, size_t min_size, size_t avg_size, size_t max_size)
{
    if (min_size < 64 || min_size >= avg_size || avg_size >= max_size)
        return -1;
    unsigned bits = 0;
    while (bits < 62 && ((size_t)1 << (bits + 1)) <= avg_size)
        bits++;
    /* Round to the nearer power of two. */
    if (bits < 62 && avg_size - ((size_t)1 << bits) > ((size_t)1 << (bits + 1)) - avg_size)
        bits++;
    if (bits <= CHUNKER_NORMALIZATION || bits + CHUNKER_NORMALIZATION > 63)
        return -1;
    c->min_size = min_size;
    c->avg_size = avg_size;
    c->max_size = max_size;
    c->mask_small = top_bits(bits + CHUNKER_NORMALIZATION);
    c->mask_large = top_bits(bits - CHUNKER_NORMALIZATION);
    return 0;
}

size_t chunker_next(const struct chunker *c, const unsigned char *p, size_t n)
{
    if (n <= c->min_size)
        return n;
    size_t end = n < c->max_size ? n : c->max_size;
    size_t normal = c->avg_size < end ? c->avg_size : end;
    uint64_t fp = 0;
    size_t i = c->min_size;
    for (; i < normal; i++) {
        fp = (fp << 1) + gear[p[i]];
        if (!(fp & c->mask_small))
            return i + 1;
    }
    for (; i < end; i++) {
        fp = (fp << 1) + gear[p[i]];
        if (!(fp & c->mask_large))
            return i + 1;
    }
    return end;
}
