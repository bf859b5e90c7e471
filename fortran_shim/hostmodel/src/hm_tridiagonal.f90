!> Tridiagonal linear solver (Thomas algorithm) for the implicit soil heat and water equations.
module hm_tridiagonal
  use hm_constants, only: dp
  implicit none
  private
  public :: tridiag_solve

contains

  !> Solve a_i x_{i-1} + b_i x_i + c_i x_{i+1} = r_i for i = 1..n (a_1, c_n unused).
  !! The systems here are diagonally dominant, so no pivoting is needed.
  pure subroutine tridiag_solve(n, a, b, c, r, x)
    integer, intent(in) :: n            !! number of unknowns
    real(dp), intent(in) :: a(n)        !! sub-diagonal
    real(dp), intent(in) :: b(n)        !! diagonal
    real(dp), intent(in) :: c(n)        !! super-diagonal
    real(dp), intent(in) :: r(n)        !! right-hand side
    real(dp), intent(out) :: x(n)       !! solution
    real(dp) :: cp(n), rp(n), den
    integer :: i
    cp(1) = c(1) / b(1)
    rp(1) = r(1) / b(1)
    do i = 2, n
      den = b(i) - a(i) * cp(i - 1)
      cp(i) = c(i) / den
      rp(i) = (r(i) - a(i) * rp(i - 1)) / den
    end do
    x(n) = rp(n)
    do i = n - 1, 1, -1
      x(i) = rp(i) - cp(i) * x(i + 1)
    end do
  end subroutine tridiag_solve

end module hm_tridiagonal
