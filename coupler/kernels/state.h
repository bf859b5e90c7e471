int64_t le_check_copy(const double *src, double *dst, int64_t n, double lo, double hi);
int64_t le_check_accumulate(const double *src, double *acc, int64_t n, double lo, double hi);
int64_t le_first_invalid(const double *src, int64_t n, double lo, double hi);
int64_t le_check_sum(const double *src, const double *acc, double *out, int64_t n, double lo, double hi);
int64_t le_count_invalid(const double *src, int64_t n, double lo, double hi);
