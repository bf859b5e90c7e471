void smm_apply(int64_t nrow, const int64_t *ptr, const int32_t *idx, const double *w, int64_t nvar, const double *x, int64_t x_term_stride, int64_t x_var_stride, double *y, int64_t y_row_stride, int64_t y_var_stride);
void smm_scatter(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w, int64_t nvar, const double *x, int64_t x_var_stride, double *acc);
void smm_scatter_classes(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w, const double *codes, const double *mask, int64_t nclass, double *acc);
void smm_scatter_masked(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w, int64_t nvar, const double *x, int64_t x_var_stride, const double *mask, double *acc);
