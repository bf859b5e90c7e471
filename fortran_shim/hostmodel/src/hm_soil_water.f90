!> Soil water of the 10-layer column: surface runoff and infiltration, Richards-equation
!! redistribution with root uptake and soil evaporation as sinks, free drainage at the bottom.
!!
!! Runoff: saturation excess over the saturated fraction of the VIC / Xinanjiang curve
!! f_sat = 1 - (1 - S)^(b/(1+b)), b = 0.3, S the relative wetness of the top 0.29 m (layers
!! 1-5) (Zhao 1980; Liang et al. 1994), plus infiltration excess above the saturated
!! conductance of the top layer (Horton). Redistribution: mixed-form Richards equation with
!! Clapp-Hornberger k(theta), psi(theta), linearised in theta and solved backward Euler
!! (CLM4.0 SoilWater, Oleson et al. 2010 eqs. 7.80-7.93); bottom: free (gravity) drainage
!! k(theta_N), linearised consistently, so mass is conserved to round-off. Water pushed above
!! saturation moves up and finally leaves as surface runoff; a layer drier than theta_min
!! takes the missing water from its neighbours. Every such move is counted in a flux, so
!! d(storage) = (infiltration - drainage - sinks) dt holds exactly up to round-off.
module hm_soil_water
  use hm_constants, only: dp, nlevsoi, denh2o, theta_min
  use hm_soil, only: soil_props, matric_potential, hydraulic_conductivity, zsoi, dzsoi, zisoi
  use hm_tridiagonal, only: tridiag_solve
  implicit none
  private

  real(dp), parameter :: b_vic = 0.3_dp     !! VIC infiltration-curve shape parameter
  integer, parameter :: nlev_sat = 5         !! layers whose wetness sets the saturated fraction

  public :: soil_water_step, saturated_fraction

contains

  !> Saturated fraction of the column from the wetness of the top layers.
  pure function saturated_fraction(sp, theta) result(fsat)
    type(soil_props), intent(in) :: sp        !! soil properties
    real(dp), intent(in) :: theta(nlevsoi)    !! volumetric liquid water (m3 m-3)
    real(dp) :: fsat, s
    s = sum(theta(1:nlev_sat) * dzsoi(1:nlev_sat)) / (sp%watsat * zisoi(nlev_sat))
    s = min(max(s, 0._dp), 1._dp)
    fsat = 1._dp - (1._dp - s)**(b_vic / (1._dp + b_vic))
  end function saturated_fraction

  !> Advance soil water by one step.
  pure subroutine soil_water_step(sp, dt, qin, sink, theta, qover, qinfl, qdrai)
    type(soil_props), intent(in) :: sp          !! soil properties
    real(dp), intent(in) :: dt                  !! time step (s)
    real(dp), intent(in) :: qin                 !! liquid water reaching the soil surface (kg m-2 s-1)
    real(dp), intent(in) :: sink(nlevsoi)       !! evaporation + root uptake per layer (kg m-2 s-1)
    real(dp), intent(inout) :: theta(nlevsoi)   !! volumetric liquid water (m3 m-3)
    real(dp), intent(out) :: qover              !! surface runoff (kg m-2 s-1)
    real(dp), intent(out) :: qinfl              !! infiltration (kg m-2 s-1)
    real(dp), intent(out) :: qdrai              !! drainage out of the bottom (kg m-2 s-1)
    real(dp) :: fsat, qinmax, q0, a(nlevsoi), b(nlevsoi), c(nlevsoi), r(nlevsoi), dth(nlevsoi)
    real(dp) :: psi(nlevsoi), dpsi(nlevsoi), q(nlevsoi), dqu(nlevsoi), dql(nlevsoi)
    real(dp) :: kk, dk, dz, hd, e(nlevsoi), excess, need, take, qn_lin
    integer :: i, j

    ! --- runoff and infiltration --------------------------------------------------------
    fsat = saturated_fraction(sp, theta)
    qinmax = sp%hksat * denh2o
    qover = fsat * qin + max((1._dp - fsat) * qin - qinmax, 0._dp)
    qinfl = qin - qover

    ! --- Richards equation, linearised backward Euler (units: m, s) -------------------
    do i = 1, nlevsoi
      call matric_potential(sp, theta(i), psi(i), dpsi(i))
      e(i) = sink(i) / denh2o
    end do
    q0 = qinfl / denh2o
    ! interface fluxes q(i) between layers i and i+1 (positive downward) and derivatives
    do i = 1, nlevsoi - 1
      dz = zsoi(i + 1) - zsoi(i)
      call hydraulic_conductivity(sp, 0.5_dp * (theta(i) + theta(i + 1)), kk, dk)
      hd = (psi(i) - zsoi(i)) - (psi(i + 1) - zsoi(i + 1))
      q(i) = kk * hd / dz
      dqu(i) = 0.5_dp * dk * hd / dz + kk * dpsi(i) / dz        ! d q_i / d theta_i
      dql(i) = 0.5_dp * dk * hd / dz - kk * dpsi(i + 1) / dz    ! d q_i / d theta_{i+1}
    end do
    call hydraulic_conductivity(sp, theta(nlevsoi), kk, dk)
    q(nlevsoi) = kk
    dqu(nlevsoi) = dk
    dql(nlevsoi) = 0._dp
    do i = 1, nlevsoi
      b(i) = dzsoi(i) / dt + dqu(i)
      a(i) = 0._dp
      c(i) = 0._dp
      r(i) = -q(i) - e(i)
      if (i == 1) then
        r(i) = r(i) + q0
      else
        a(i) = -dqu(i - 1)
        b(i) = b(i) - dql(i - 1)
        r(i) = r(i) + q(i - 1)
      end if
      if (i < nlevsoi) c(i) = dql(i)
    end do
    call tridiag_solve(nlevsoi, a, b, c, r, dth)
    theta = theta + dth
    qn_lin = q(nlevsoi) + dqu(nlevsoi) * dth(nlevsoi)
    if (qn_lin < 0._dp) then
      ! no capillary inflow from below the column: keep the water in the bottom layer
      theta(nlevsoi) = theta(nlevsoi) + qn_lin * dt / dzsoi(nlevsoi)
      qn_lin = 0._dp
    end if
    qdrai = qn_lin * denh2o

    ! --- over-saturation: move excess up, leave as surface runoff ---------------------
    do i = nlevsoi, 2, -1
      excess = max(theta(i) - sp%watsat, 0._dp) * dzsoi(i)
      theta(i) = theta(i) - excess / dzsoi(i)
      theta(i - 1) = theta(i - 1) + excess / dzsoi(i - 1)
    end do
    excess = max(theta(1) - sp%watsat, 0._dp) * dzsoi(1)
    theta(1) = theta(1) - excess / dzsoi(1)
    qover = qover + excess * denh2o / dt

    ! --- too dry: borrow from the layers below, then from above ------------------------
    do i = 1, nlevsoi
      if (theta(i) >= theta_min) cycle
      need = (theta_min - theta(i)) * dzsoi(i)
      do j = i + 1, nlevsoi
        take = min(need, max(theta(j) - theta_min, 0._dp) * dzsoi(j))
        theta(j) = theta(j) - take / dzsoi(j)
        need = need - take
        if (need <= 0._dp) exit
      end do
      do j = i - 1, 1, -1
        if (need <= 0._dp) exit
        take = min(need, max(theta(j) - theta_min, 0._dp) * dzsoi(j))
        theta(j) = theta(j) - take / dzsoi(j)
        need = need - take
      end do
      theta(i) = theta_min - need / dzsoi(i)
    end do
  end subroutine soil_water_step

end module hm_soil_water
