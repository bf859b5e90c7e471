void smm_apply(int64_t nrow, const int64_t *ptr, const int32_t *idx, const double *w, int64_t nvar, const double *x, int64_t x_term_stride, int64_t x_var_stride, double *y, int64_t y_row_stride, int64_t y_var_stride);
void smm_scatter(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w, int64_t nvar, const double *x, int64_t x_var_stride, double *acc);
